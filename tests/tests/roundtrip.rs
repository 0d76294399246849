//! Every fixture: deserialize, serialize, and get back exactly the JSON we started from.

use aws_lambda_events::alb::AlbTargetGroupRequest;
use edge_persist_core::cloudfront::CloudFrontEvent;
use edge_persist_tests::fixtures;
use serde_json::{Value, json};

#[test]
fn cloudfront_fixtures_round_trip_exactly() {
    for (stem, original) in fixtures("cloudfront-") {
        let parsed: CloudFrontEvent =
            serde_json::from_value(original.clone()).unwrap_or_else(|e| panic!("{stem}: {e}"));
        let back = serde_json::to_value(&parsed).unwrap();
        assert_eq!(back, original, "{stem}: serialising changed the event");
        let reparsed: CloudFrontEvent = serde_json::from_value(back).unwrap();
        assert_eq!(reparsed, parsed, "{stem}");
    }
}

#[test]
fn alb_fixtures_round_trip() {
    for (stem, original) in fixtures("alb-") {
        let parsed: AlbTargetGroupRequest =
            serde_json::from_value(original).unwrap_or_else(|e| panic!("{stem}: {e}"));
        let back = serde_json::to_string(&parsed).unwrap();
        let reparsed: AlbTargetGroupRequest = serde_json::from_str(&back).unwrap();
        assert_eq!(reparsed, parsed, "{stem}");
    }
}

/// Fields CloudFront may add later survive, at every level, because the function returns the
/// request it was given.
#[test]
fn unknown_fields_survive_a_round_trip() {
    let mut event = edge_persist_tests::fixture("cloudfront-origin-request");
    let cf = &mut event["Records"][0]["cf"];
    cf["futureCf"] = json!({"a": 1});
    cf["config"]["futureConfig"] = json!("x");
    cf["request"]["futureRequest"] = json!([1, 2]);
    cf["request"]["origin"]["custom"]["futureOrigin"] = json!(true);
    event["Records"][0]["futureRecord"] = json!(null);
    event["futureTop"] = json!({"b": "c"});
    let parsed: CloudFrontEvent = serde_json::from_value(event.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), event);
}

#[test]
fn origin_must_be_exactly_one_of_custom_or_s3() {
    let custom = edge_persist_tests::fixture("cloudfront-origin-request");
    let s3 = edge_persist_tests::fixture("cloudfront-origin-request-s3");
    let mut both = custom.clone();
    both["Records"][0]["cf"]["request"]["origin"]["s3"] =
        s3["Records"][0]["cf"]["request"]["origin"]["s3"].clone();
    let mut neither = custom;
    neither["Records"][0]["cf"]["request"]["origin"] = Value::Object(Default::default());
    for bad in [both, neither] {
        assert!(serde_json::from_value::<CloudFrontEvent>(bad).is_err());
    }
}
