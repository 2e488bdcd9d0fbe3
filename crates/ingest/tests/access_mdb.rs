//! The Access reader's plumbing (mdb-tables, mdb-export, zip extraction) on the
//! genuine Northwind `.mdb` in the shared corpus. Northwind is not NTSB data, so
//! none of its tables is recognised and the stream is empty; the point is that
//! listing, exporting and Access dates all work. Skipped, with a reason, when
//! mdbtools or the shared corpus is absent.

use std::io::BufReader;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ntsb_ingest::csv_rows::{CsvStream, Row};
use ntsb_ingest::formats::access;
use ntsb_ingest::{Error, Format, Item, detect};
use ntsb_model::SourceKind;
use ntsb_model::records::Record;
use ntsb_test_support::shared_data;

fn nwind(test: &str) -> Option<PathBuf> {
    let dir = shared_data(test)?;
    let path = dir.join("access-sample/nwind.mdb");
    if !path.is_file() {
        ntsb_test_support::skip(test, "the shared corpus's Access sample", &format!("{} is absent", path.display()));
        return None;
    }
    if !ntsb_test_support::tool(test, "mdb-tables", "apt-get install mdbtools") {
        return None;
    }
    Some(path)
}

const NWIND_TABLES: [&str; 8] =
    ["Categories", "Customers", "Employees", "Order Details", "Orders", "Products", "Shippers", "Suppliers"];

#[test]
fn lists_northwind_tables_and_recognises_none() {
    let Some(db) = nwind("lists_northwind_tables_and_recognises_none") else { return };
    let mut tables = access::list_tables(&db).expect("mdb-tables runs");
    tables.sort();
    assert_eq!(tables, NWIND_TABLES);
    let (load, mut skipped) = access::plan(&db).expect("plan");
    assert!(load.is_empty());
    skipped.sort();
    assert_eq!(skipped, NWIND_TABLES);
    assert_eq!(detect(&db).expect("readable"), Ok(Format::Access));
    let stream = access::open(&db).expect("opens");
    assert_eq!(stream.kind(), SourceKind::Avall);
    assert_eq!(stream.count(), 0);
}

#[test]
fn mdb_export_dates_and_text_parse() {
    let Some(db) = nwind("mdb_export_dates_and_text_parse") else { return };
    let mut child =
        Command::new("mdb-export").arg(&db).arg("Orders").stdout(Stdio::piped()).spawn().expect("mdb-export runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut dates = Vec::new();
    let mut cities = Vec::new();
    let map = |row: &mut Row| -> Vec<Record> {
        dates.push(row.date("OrderDate"));
        let _ = row.date("RequiredDate");
        let _ = row.date("ShippedDate");
        let _ = row.required_int("OrderID");
        let _ = row.real("Freight");
        cities.push(row.raw("ShipAddress").to_string());
        Vec::new()
    };
    let stream =
        CsvStream::new(BufReader::new(stdout), &db, "nwind.mdb:Orders".into(), "Orders", SourceKind::Avall, &[], map)
            .expect("header");
    let rejects: Vec<Item> = stream.map(|i| i.expect("no fatal error")).collect();
    assert!(child.wait().expect("exit").success());
    assert!(rejects.is_empty(), "{:?}", &rejects[..rejects.len().min(3)]);
    assert_eq!(dates.len(), 830);
    assert!(dates.iter().all(Option::is_some));
    assert!(dates.contains(&Some("1994-11-16".to_string())), "MM/DD/YY HH:MM:SS → ISO");
    assert!(cities.iter().any(|c| c.contains("Bolívar")), "accented text survives as UTF-8");
}

#[test]
fn zip_holding_an_access_database_is_opened() {
    let Some(db) = nwind("zip_holding_an_access_database_is_opened") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let zip_path = dir.path().join("avall.zip");
    {
        let file = std::fs::File::create(&zip_path).expect("create zip");
        let mut zip = zip::ZipWriter::new(file);
        zip.start_file("readme.txt", zip::write::SimpleFileOptions::default()).expect("entry");
        std::io::Write::write_all(&mut zip, b"not the database").expect("write");
        zip.start_file("nwind.mdb", zip::write::SimpleFileOptions::default()).expect("entry");
        let mut src = std::fs::File::open(&db).expect("open mdb");
        std::io::copy(&mut src, &mut zip).expect("copy");
        zip.finish().expect("finish");
    }
    assert_eq!(detect(&zip_path).expect("readable"), Ok(Format::AccessZip));
    let temp = access::extract_database(&zip_path).expect("extract");
    assert_eq!(std::fs::metadata(temp.path()).expect("temp").len(), std::fs::metadata(&db).expect("db").len());
    let stream = access::open_zip(&zip_path).expect("opens");
    assert_eq!(stream.kind(), SourceKind::Avall);
    assert_eq!(stream.count(), 0);
}

#[test]
fn non_access_input_is_a_tool_error() {
    if !ntsb_test_support::tool("non_access_input_is_a_tool_error", "mdb-tables", "apt-get install mdbtools") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fake.mdb");
    std::fs::write(&path, b"this is not a database").expect("write");
    match access::open(&path) {
        Err(Error::Tool { reason, .. }) => assert!(reason.starts_with("mdb-tables failed"), "{reason}"),
        Err(e) => panic!("expected a tool error, got {e}"),
        Ok(_) => panic!("expected a tool error"),
    }
    let zip_path = dir.path().join("empty.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).expect("create"));
    zip.start_file("x.txt", zip::write::SimpleFileOptions::default()).expect("entry");
    zip.finish().expect("finish");
    assert!(matches!(access::open_zip(&zip_path), Err(Error::Malformed { .. })));
}
