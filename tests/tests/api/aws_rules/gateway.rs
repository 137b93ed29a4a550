//! The HTTP API: stage and base URL, routes, throttling, and Lambda's payload limit.

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

use super::{list, of_type, reference, template, API_ROUTES};
use crate::routes::root_file;

/// An HTTP API passes a named stage in every request's `rawPath` (`/prod/api/v1/…`), which
/// no route of the functions matches: the stage is `$default` only, and a custom domain
/// (a regional one, with a certificate in the stack's region) gives the API another base
/// URL, its stage mapped at the domain's root.
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-stages.html>
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-mappings.html>
#[test]
fn the_base_url_output_is_right_with_and_without_a_custom_domain() {
    let template = template();
    let stage = &template["Parameters"]["StageName"];
    assert_eq!(list(&stage["AllowedValues"]), [&Value::from("$default")]);
    let value = &template["Outputs"]["ApiBaseUrl"]["Value"];
    let Value::Tagged(branch) = value else {
        panic!("ApiBaseUrl is {value:?}")
    };
    assert_eq!(branch.tag, "!If");
    let arms = branch.value.as_sequence().unwrap();
    assert_eq!(arms[0], "HasDomain");
    assert_eq!(reference(&arms[1]), "https://${DomainName}/api/v1");
    assert_eq!(
        reference(&arms[2]),
        "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/v1"
    );
    let domains = of_type(&template, "AWS::ApiGatewayV2::DomainName");
    let [(domain, resource)] = domains.as_slice() else {
        panic!("one custom domain: {domains:?}")
    };
    assert_eq!(resource["Condition"], "HasDomain");
    let configuration = &resource["Properties"]["DomainNameConfigurations"][0];
    assert_eq!(configuration["EndpointType"], "REGIONAL");
    assert_eq!(
        reference(&configuration["CertificateArn"]),
        "CertificateArn"
    );
    let mappings = of_type(&template, "AWS::ApiGatewayV2::ApiMapping");
    let [(_, mapping)] = mappings.as_slice() else {
        panic!("one API mapping")
    };
    let mapping = &mapping["Properties"];
    assert_eq!(reference(&mapping["DomainName"]), *domain);
    assert_eq!(reference(&mapping["Stage"]), "Api.Stage");
    assert!(
        mapping.get("ApiMappingKey").is_none(),
        "served at the domain's root"
    );
    let rule = &template["Rules"]["DomainNeedsCertificate"];
    assert!(serde_yaml_ng::to_string(rule)
        .unwrap()
        .contains("CertificateArn"));
}

/// HTTP API routes match a method and a path; a request whose method has no route on a
/// known path falls to `$default`. One `ANY` route per path sends every method to the
/// function that owns the path, which answers 405 for the methods it does not serve (and
/// the local gateway, which routes by path, then behaves as API Gateway does).
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html>
#[test]
fn every_path_reaches_its_owner_whatever_the_method() {
    let template = template();
    let mut paths = BTreeSet::new();
    for (name, function) in of_type(&template, "AWS::Serverless::Function") {
        let events = function["Properties"]["Events"].as_mapping();
        for (_, event) in events.into_iter().flatten() {
            if event["Type"] != "HttpApi" {
                continue;
            }
            let properties = &event["Properties"];
            let Some(path) = properties["Path"].as_str() else {
                assert_eq!(name, "FlowsFunction", "only flows takes $default");
                continue;
            };
            assert_eq!(properties["Method"], "ANY", "{name}: {path}");
            assert!(paths.insert(path.to_string()), "{path} routed twice");
        }
    }
    assert_eq!(paths.len(), API_ROUTES - 1);
}

/// A stage's default route settings throttle each route on its own: the gateway's total
/// is the rate times the routes. The parameter and the docs say so, with the count.
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html>
#[test]
fn the_gateway_throttle_is_documented_per_route_with_the_route_count() {
    let template = template();
    let description = template["Parameters"]["ApiThrottleRate"]["Description"]
        .as_str()
        .unwrap();
    let routes = format!("{API_ROUTES} routes");
    assert!(description.contains("each route"), "{description}");
    assert!(description.contains(&routes), "{description}");
    let deploy = root_file("docs/deploy.md");
    assert!(
        deploy.contains(&routes),
        "docs/deploy.md names the {routes}"
    );
    assert!(!deploy.contains("across all routes"));
    assert!(!root_file("docs/operations.md").contains("across all routes"));
}

/// Lambda refuses a synchronous request over 6 MB before the function runs, and API
/// Gateway then answers 5xx. Its own `5xx` metric cannot tell that from a fault; the access
/// log can (`integrationStatus`, Lambda's own answer: 413), so the alarm counts from it.
/// <https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html>
#[test]
fn requests_over_lambdas_payload_limit_do_not_page() {
    let template = template();
    let resources = &template["Resources"];
    let format = resources["Api"]["Properties"]["AccessLogSettings"]["Format"]
        .as_str()
        .unwrap();
    assert!(
        format.contains(r#""status":$context.status,"#),
        "a number: {format}"
    );
    assert!(format.contains(r#""integrationStatus":"$context.integrationStatus""#));
    let filters = of_type(&template, "AWS::Logs::MetricFilter");
    let [(_, filter)] = filters.as_slice() else {
        panic!("one metric filter")
    };
    let filter = &filter["Properties"];
    assert_eq!(reference(&filter["LogGroupName"]), "ApiAccessLogs");
    assert_eq!(
        filter["FilterPattern"],
        r#"{ $.status >= 500 && $.integrationStatus != "413" }"#
    );
    let metric = &filter["MetricTransformations"][0];
    let alarm = &resources["Api5xxAlarm"]["Properties"];
    assert_eq!(alarm["MetricName"], metric["MetricName"]);
    assert_eq!(
        reference(&alarm["Namespace"]),
        reference(&metric["MetricNamespace"])
    );
    assert_eq!(alarm["Statistic"], "Sum");
    assert!(
        !serde_yaml_ng::to_string(resources)
            .unwrap()
            .contains("AWS/ApiGateway"),
        "no alarm on the gateway's own 5xx"
    );
}
