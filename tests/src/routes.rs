//! The API's routes as `[workspace.metadata.lambda.watch.router]` in `Cargo.toml` lists
//! them (the `routes` tests hold it equal to `template.yaml`), and which route a path takes.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// (path template, function) for every entry of the watch router, in file order.
pub fn table() -> &'static [(String, String)] {
    static TABLE: OnceLock<Vec<(String, String)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let cargo =
            std::fs::read_to_string(format!("{}/../Cargo.toml", env!("CARGO_MANIFEST_DIR")))
                .expect("the workspace's Cargo.toml");
        let section = cargo
            .split("[workspace.metadata.lambda.watch.router]")
            .nth(1)
            .expect("a watch router table");
        section
            .lines()
            .take_while(|line| !line.starts_with('['))
            .filter_map(|line| line.split_once(" = "))
            .map(|(path, function)| {
                (
                    path.trim_matches('"').to_string(),
                    function.trim_matches('"').to_string(),
                )
            })
            .collect()
    })
}

/// The route a path takes, with the values of its `{name}` segments.
#[derive(Clone, Debug)]
pub struct Route {
    pub template: &'static str,
    pub function: &'static str,
    pub parameters: BTreeMap<String, String>,
}

/// The most specific route for `path`, as API Gateway picks it: a route without a greedy
/// segment before one with, then the route with more literal segments.
pub fn matching(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.split('/').collect();
    table()
        .iter()
        .filter_map(|(template, function)| {
            let mut parameters = BTreeMap::new();
            let mut literals = 0;
            let parts: Vec<&str> = template.split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                if part.starts_with("{*") {
                    return Some(((false, literals), template, function, parameters));
                }
                let segment = segments.get(i)?;
                if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    if segment.is_empty() {
                        return None;
                    }
                    parameters.insert(name.to_string(), segment.to_string());
                } else if part == segment {
                    literals += 1;
                } else {
                    return None;
                }
            }
            (parts.len() == segments.len()).then_some((
                (true, literals),
                template,
                function,
                parameters,
            ))
        })
        .max_by_key(|(rank, ..)| *rank)
        .map(|(_, template, function, parameters)| Route {
            template,
            function,
            parameters,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_take_the_most_specific_route() {
        let route = |path: &str| {
            let route = matching(path).unwrap();
            (route.template, route.function)
        };
        assert_eq!(route("/api/v1/dossiers"), ("/api/v1/dossiers", "dossiers"));
        assert_eq!(
            route("/api/v1/dossiers/a/contacts/b"),
            ("/api/v1/dossiers/{id}/contacts/{contact_id}", "contacts")
        );
        assert_eq!(
            route("/api/v1/dossiers/a/notes"),
            ("/api/v1/dossiers/{id}/notes", "notes")
        );
        assert_eq!(
            route("/api/v1/dossiers/a/b/c/d"),
            ("/api/v1/{*rest}", "flows")
        );
        assert_eq!(route("/elsewhere"), ("/{*rest}", "flows"));
        assert_eq!(
            matching("/api/v1/contacts/c12a").unwrap().parameters["id"],
            "c12a"
        );
    }
}
