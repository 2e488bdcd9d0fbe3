//! CSV records for every CSV the server writes (the API's event export and the
//! dashboard's tables), so quoting and the spreadsheet-formula guard have one
//! home.

/// Appends one record (RFC 4180: comma-separated, CRLF-terminated, a field
/// holding a comma, quote or line break quoted with its quotes doubled).
///
/// A field that starts with `=`, `+`, `-` or `@` and is not a number would run
/// as a formula when the file is opened in a spreadsheet (narratives and
/// operator names are free text), so it is written as quoted text with a
/// leading `'` (OWASP's CSV-injection advice).
pub(crate) fn write_record<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, field) in fields.iter().enumerate() {
        let field = field.as_ref();
        if i > 0 {
            out.push(',');
        }
        let formula = field.starts_with(['=', '+', '-', '@']) && field.parse::<f64>().is_err();
        if formula {
            out.push_str("\"'");
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::write_record;

    fn record(fields: &[&str]) -> String {
        let mut out = String::new();
        write_record(&mut out, fields);
        out
    }

    #[test]
    fn quotes_what_needs_quoting() {
        assert_eq!(record(&["a", "Boise, \"ID\"", "two\nlines", ""]), "a,\"Boise, \"\"ID\"\"\",\"two\nlines\",\r\n");
    }

    #[test]
    fn defuses_formulas_but_not_numbers() {
        assert_eq!(
            record(&["=HYPERLINK(\"x\")", "-12.5", "+1", "@SUM(A1)", "-cmd"]),
            "\"'=HYPERLINK(\"\"x\"\")\",-12.5,+1,\"'@SUM(A1)\",\"'-cmd\"\r\n"
        );
    }
}
