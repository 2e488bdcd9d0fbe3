//! The ML endpoints in process: the real router over a store loaded with the
//! synthetic ML fixture and models trained on it (quick settings).

use std::sync::{Arc, OnceLock};

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use ntsb_load::{LoadOptions, Loader, NoProgress};
use ntsb_ml::pipeline::{self, Options};
use ntsb_ml::{Dataset, ModelKind, Registry};
use ntsb_search::SearchIndex;
use ntsb_server::AppState;
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{Store, TrainingData, TrainingFilter};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    with_models: AppState,
    without_models: AppState,
    /// An admin's API key (scoring needs a user).
    key: String,
}

mod support;

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("ntsb.sqlite")).unwrap());
        store.migrate().unwrap();
        let index = Arc::new(SearchIndex::open_or_create(&dir.path().join("index")).unwrap());
        let loader = Loader::new(store.as_ref(), None, LoadOptions::new(dir.path().join("rejects")));
        let path = ntsb_test_support::fixture("ml/accidents_synthetic.csv");
        loader.load_paths(&[path], &mut NoProgress).unwrap();
        let rows = store.training_rows(&TrainingFilter { accidents_only: true }).unwrap();
        let registry = Registry::empty();
        for kind in ModelKind::ALL {
            let ds = Dataset::from_rows(kind, &rows, None);
            let mut model = pipeline::train_model(&ds, &Options::quick(kind, 1), None).unwrap();
            model.save(&Registry::model_path(&dir.path().join("models"), kind)).unwrap();
            registry.insert(model);
        }
        let auth = support::engine(store.clone());
        let key = support::key_for(&auth, "admin@example.org", ntsb_auth::Role::Admin);
        let without_models = AppState::from_sqlite(store.clone(), index.clone()).with_auth(auth.clone());
        let with_models = AppState::from_sqlite(store, index).with_models(Arc::new(registry)).with_auth(auth);
        Fixture { _dir: dir, with_models, without_models, key }
    })
}

async fn call(state: &AppState, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let app = ntsb_server::router(state.clone());
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("x-api-key", fixture().key.as_str())
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = to_bytes(res.into_body(), 16 * 1024 * 1024).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn predict(body: Value) -> (StatusCode, Value) {
    call(&fixture().with_models, Method::POST, "/api/v1/ml/predict", Some(body)).await
}

fn assert_invalid(status: StatusCode, problem: &Value, field: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["code"], "invalid_parameter", "{problem}");
    assert_eq!(problem["parameter"], field, "{problem}");
}

#[tokio::test]
async fn without_models_the_server_answers_a_clear_503() {
    let state = &fixture().without_models;
    let (status, body) = call(state, Method::GET, "/api/v1/ml/models", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"], json!([]));
    let (status, problem) =
        call(state, Method::POST, "/api/v1/ml/predict", Some(json!({"model": "fatal", "features": {}}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert_eq!(problem["code"], "unavailable");
    assert!(problem["detail"].as_str().unwrap().contains("ntsb ml train"), "{problem}");
}

/// `bias`, the listed contributions and the unlisted rest add up to `raw_score`.
fn assert_adds_up(p: &Value) {
    let sum: f64 = p["contributions"].as_array().unwrap().iter().map(|c| c["contribution"].as_f64().unwrap()).sum();
    let total = p["bias"].as_f64().unwrap() + sum + p["unlisted_contribution"].as_f64().unwrap();
    assert!((total - p["raw_score"].as_f64().unwrap()).abs() < 1e-9, "{p}");
}

#[tokio::test]
async fn predictions_carry_calibrated_probabilities_and_exact_contributions() {
    let (status, p) = predict(json!({"model": "fatal", "features": {
        "event_date": "2012-03-04", "weather": "IMC", "phase": "cruise", "make": "Cessna", "damage": "destroyed"}}))
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let prob = p["probability"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&prob));
    assert_eq!(p["probabilities"]["fatal"].as_f64().unwrap(), prob);
    assert!(p["class"] == "fatal" || p["class"] == "not_fatal");
    assert!(p["version"].as_str().unwrap().starts_with("fatal-"));
    assert_adds_up(&p);
    assert_eq!(p["contributions"].as_array().unwrap().len(), 5, "the five largest by default: {p}");
    assert_eq!(p["explanation"].as_array().unwrap().len(), 5, "{p}");

    // Every feature's contribution, or none, on request: the same score and words.
    let features = fixture().with_models.ml.get(ModelKind::Fatal).unwrap().features.len();
    for (asked, listed) in [(json!("all"), features), (json!(0), 0), (json!(7), 7), (json!(1000), features)] {
        let (status, q) = predict(json!({"model": "fatal", "contributions": asked, "features": {
            "event_date": "2012-03-04", "weather": "IMC", "phase": "cruise", "make": "Cessna", "damage": "destroyed"}}))
        .await;
        assert_eq!(status, StatusCode::OK, "{q}");
        assert_eq!(q["contributions"].as_array().unwrap().len(), listed, "{asked}: {q}");
        assert_eq!(
            (&q["raw_score"], &q["probability"], &q["explanation"]),
            (&p["raw_score"], &p["probability"], &p["explanation"])
        );
        assert_eq!(
            q["contributions"].as_array().unwrap()[..listed.min(5)],
            p["contributions"].as_array().unwrap()[..listed.min(5)]
        );
        if listed == features {
            assert_eq!(q["unlisted_contribution"], 0.0, "{q}");
        }
        assert_adds_up(&q);
    }

    // Missing fields are allowed; unknown categories are scored and reported.
    let (status, p) = predict(json!({"model": "severity", "features": {"make": "Zeppelin Werke"}})).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["unknown_categories"], json!(["make"]));
    assert_eq!(p["probabilities"].as_object().unwrap().len(), 4);

    // Outcome facts given to the pre-flight model are ignored, and said to be.
    let (status, p) = predict(json!({"model": "risk", "features": {"damage": "destroyed", "weather": "IMC"}})).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["ignored_fields"], json!(["damage"]));

    // `risk` reads the airport's name (its kind), not the model designation.
    let (status, p) = predict(json!({"model": "risk", "contributions": "all", "features":
        {"airport_name": "Smith Private Strip", "model": "172N", "make": "Cessna"}}))
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["ignored_fields"], json!(["model"]));
    let read: Vec<&str> =
        p["contributions"].as_array().unwrap().iter().map(|c| c["feature"].as_str().unwrap()).collect();
    assert!(read.contains(&"airport_type") && !read.contains(&"model"), "{read:?}");
}

#[tokio::test]
async fn stored_events_are_scored_by_ev_id() {
    let (status, p) = predict(json!({"model": "fatal", "ev_id": "20081212X90000"})).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["ev_id"], "20081212X90000");
    let (status, problem) = predict(json!({"model": "fatal", "ev_id": "20990101X00001"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
}

#[tokio::test]
async fn invalid_requests_get_a_400_naming_the_field() {
    let (s, p) = predict(json!({"model": "fatal", "features": {"latitude": "north"}})).await;
    assert_invalid(s, &p, "features.latitude");
    let (s, p) = predict(json!({"model": "fatal", "features": {"latitude": 95.5}})).await;
    assert_invalid(s, &p, "features.latitude");
    let (s, p) = predict(json!({"model": "fatal", "features": {"num_engines": 99}})).await;
    assert_invalid(s, &p, "features.num_engines");
    let (s, p) = predict(json!({"model": "fatal", "features": {"amateur_built": "yes"}})).await;
    assert_invalid(s, &p, "features.amateur_built");
    let (s, p) = predict(json!({"model": "fatal", "features": {"wingspan": 10}})).await;
    assert_invalid(s, &p, "features.wingspan");
    let (s, p) = predict(json!({"model": "crystal-ball", "features": {}})).await;
    assert_invalid(s, &p, "model");
    let (s, p) = predict(json!({"model": 7, "features": {}})).await;
    assert_invalid(s, &p, "model");
    let (s, p) = predict(json!({"model": "fatal"})).await;
    assert_invalid(s, &p, "features");
    let (s, p) = predict(json!({"model": "fatal", "ev_id": "x", "features": {}})).await;
    assert_invalid(s, &p, "ev_id");
    let (s, p) = predict(json!({"model": "fatal", "features": {}, "extra": 1})).await;
    assert_invalid(s, &p, "extra");
    let (s, p) = predict(json!(["not", "an", "object"])).await;
    assert_invalid(s, &p, "body");
    for asked in [json!("many"), json!(-1), json!(2.5), json!(true)] {
        let (s, p) = predict(json!({"model": "fatal", "features": {}, "contributions": asked})).await;
        assert_invalid(s, &p, "contributions");
        let batch = json!({"model": "fatal", "items": [{"features": {}}], "contributions": asked});
        let (s, p) = call(&fixture().with_models, Method::POST, "/api/v1/ml/predict/batch", Some(batch)).await;
        assert_invalid(s, &p, "contributions");
    }
}

/// The property names of a schema of the OpenAPI document.
fn documented_fields(schema: &str) -> Vec<String> {
    let doc = serde_json::to_value(ntsb_server::openapi()).unwrap();
    let mut fields: Vec<String> =
        doc["components"]["schemas"][schema]["properties"].as_object().unwrap().keys().cloned().collect();
    fields.sort();
    fields
}

fn keys(object: &Value) -> Vec<String> {
    let mut keys: Vec<String> = object.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn the_contributions_asked_for_are_documented_as_a_count_or_all() {
    let doc = serde_json::to_value(ntsb_server::openapi()).unwrap();
    for request in ["PredictRequest", "BatchRequest"] {
        let optional = &doc["components"]["schemas"][request]["properties"]["contributions"];
        // Optional: the schema or null.
        assert_eq!(optional["oneOf"][0]["type"], "null", "{request}: {optional}");
        let asked = &optional["oneOf"][1];
        assert_eq!(asked["oneOf"][0]["type"], "integer", "{request}: {asked}");
        assert_eq!(asked["oneOf"][1]["enum"], json!(["all"]), "{request}: {asked}");
    }
}

#[tokio::test]
async fn answers_have_the_documented_shape_and_escape_what_they_echo() {
    // A category with a quote, a backslash and a control character comes back
    // in `value` and `unknown_categories`, escaped: the answer is valid JSON.
    let make = "Zeppelin \"Werke\" \\ Nr.\t7";
    for model in ["fatal", "risk", "severity"] {
        let (status, p) =
            predict(json!({"model": model, "contributions": "all", "features": {"make": make, "weather": "IMC", "pilot_age": 40}}))
                .await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(keys(&p), documented_fields("PredictionBody"), "{p}");
        for c in p["contributions"].as_array().unwrap() {
            assert_eq!(keys(c), documented_fields("ContributionBody"), "{c}");
            assert!(c["contribution"].is_f64() && c["feature"].is_string() && c["value"].is_string(), "{c}");
        }
        let echoed = p["contributions"].as_array().unwrap().iter().find(|c| c["feature"] == "make").unwrap();
        assert_eq!(echoed["value"], format!("{}, scored as other", make.to_uppercase()), "{p}");
        assert_eq!(p["unknown_categories"], json!(["make"]));
        assert!(p["ev_id"].is_null() && p["raw_score"].is_f64() && p["bias"].is_f64(), "{p}");
        assert_eq!(p["probabilities"].as_object().unwrap().len(), if model == "severity" { 4 } else { 2 });
    }
}

#[tokio::test]
async fn batches_answer_in_order_and_name_the_bad_item() {
    let state = &fixture().with_models;
    let items = json!([
        {"features": {"phase": "taxi", "weather": "VMC"}},
        {"ev_id": "20081212X90000"},
        {"features": {"phase": "cruise", "weather": "IMC"}},
    ]);
    let (status, body) =
        call(state, Method::POST, "/api/v1/ml/predict/batch", Some(json!({"model": "risk", "items": items}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let out = body["items"].as_array().unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[1]["ev_id"], "20081212X90000");
    assert!(out[0]["ev_id"].is_null() && out[2]["ev_id"].is_null());
    let (single_status, single) =
        predict(json!({"model": "risk", "features": {"phase": "cruise", "weather": "IMC"}})).await;
    assert_eq!(single_status, StatusCode::OK);
    assert_eq!(out[2]["probability"], single["probability"], "same answer alone and in a batch");

    let bad = json!({"model": "risk", "items": [{"features": {}}, {"features": {"num_engines": "two"}}]});
    let (s, p) = call(state, Method::POST, "/api/v1/ml/predict/batch", Some(bad)).await;
    assert_invalid(s, &p, "items[1].features.num_engines");
    let many: Vec<Value> = (0..1001).map(|_| json!({"features": {}})).collect();
    let (s, p) =
        call(state, Method::POST, "/api/v1/ml/predict/batch", Some(json!({"model": "risk", "items": many}))).await;
    assert_invalid(s, &p, "items");
    let full: Vec<Value> = (0..1000).map(|_| json!({"features": {"make": "Piper"}})).collect();
    let (s, body) =
        call(state, Method::POST, "/api/v1/ml/predict/batch", Some(json!({"model": "fatal", "items": full}))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["items"].as_array().unwrap().len(), 1000);
}

#[tokio::test]
async fn a_batch_answers_each_item_exactly_as_a_single_prediction_would() {
    let state = &fixture().with_models;
    // Stored events (one twice, out of store order) between given facts.
    let items = vec![
        json!({"ev_id": "20100527X90003"}),
        json!({"features": {"phase": "cruise", "weather": "IMC", "make": "Cessna", "damage": "destroyed"}}),
        json!({"ev_id": "20081212X90000"}),
        json!({"ev_id": "20141224X90201"}),
        json!({"features": {"make": "Zeppelin Werke", "latitude": 40.5}}),
        json!({"ev_id": "20100527X90003"}),
        json!({"ev_id": "20050109X90004"}),
    ];
    // Each model with the default listing, and with every contribution or a few listed.
    let asks = [
        ("fatal", None),
        ("risk", None),
        ("severity", None),
        ("fatal", Some(json!("all"))),
        ("severity", Some(json!(2))),
    ];
    for (model, listed) in asks {
        let mut request = json!({"model": model, "items": items.clone()});
        if let Some(listed) = &listed {
            request["contributions"] = listed.clone();
        }
        let (status, body) = call(state, Method::POST, "/api/v1/ml/predict/batch", Some(request)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let out = body["items"].as_array().unwrap();
        assert_eq!(out.len(), items.len());
        for (item, answer) in items.iter().zip(out) {
            let mut single = item.clone();
            single["model"] = json!(model);
            if let Some(listed) = &listed {
                single["contributions"] = listed.clone();
            }
            let (status, alone) = predict(single).await;
            assert_eq!(status, StatusCode::OK, "{alone}");
            // Everything: probabilities, contributions (values and order), words.
            assert_eq!(answer, &alone, "{model}: {item}");
            assert_adds_up(answer);
        }
    }
    // The first unknown stored event, in request order, is the 404.
    let bad = json!({"model": "fatal", "items": [{"ev_id": "20081212X90000"}, {"features": {}},
        {"ev_id": "20990101X00002"}, {"ev_id": "20990101X00001"}]});
    let (status, problem) = call(state, Method::POST, "/api/v1/ml/predict/batch", Some(bad)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("items[2].ev_id"), "{problem}");
}

#[tokio::test]
async fn the_models_endpoint_lists_versions_and_held_out_metrics() {
    let (status, body) = call(&fixture().with_models, Method::GET, "/api/v1/ml/models", None).await;
    assert_eq!(status, StatusCode::OK);
    let items = body["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|m| m["model"].as_str().unwrap()).collect();
    assert_eq!(names, ["fatal", "risk", "severity"]);
    for m in items {
        assert!(m["metrics"]["roc_auc"].is_number() && m["baseline_metrics"]["roc_auc"].is_number(), "{m}");
        assert_eq!(m["trained_rows"], 400);
    }
    let risk = &items[1];
    assert!(!risk["features"].as_array().unwrap().contains(&json!("damage")));
}
