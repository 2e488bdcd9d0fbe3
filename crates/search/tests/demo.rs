//! End to end on the synthetic demo sample: the store accepts it, the index finds
//! its templated stories, and every hit is visibly synthetic.

mod common;

use common::Fixture;
use ntsb_model::SourceKind;
use ntsb_search::SearchOptions;

#[test]
fn the_demo_sample_is_searchable() {
    let fx = Fixture::new();
    let records: Vec<_> = ntsb_ingest::demo::generate(2024, 1_000).map(|r| r.record).collect();
    fx.write_as(SourceKind::Demo, records);
    let index = fx.index();
    let out = index.sync(fx.store()).expect("sync");
    assert_eq!(out.indexed, 1_000);
    for q in ["carburetor icing", "\"fuel exhaustion\"", "midair collision", "density altitude"] {
        let page = index.search(q, &SearchOptions::default()).expect("search");
        assert!(page.total > 0, "{q}");
        for hit in &page.hits {
            assert!(hit.ev_id.as_deref().is_some_and(|id| &id[8..9] == "D"), "{hit:?}");
            assert!(hit.snippet.contains("<mark>"), "{hit:?}");
        }
    }
    let page = index.search("synthetic", &SearchOptions::default()).expect("search");
    assert_eq!(page.total, 1_000, "every narrative says it is synthetic");
}
