//! The route table: API Gateway's rules for picking the most specific route.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::template::{CorsSpec, EventSpec, FunctionUrl, PayloadVersion, RouteAuth};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

/// One route and the function behind it.
#[derive(Debug, Clone)]
pub struct Route {
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// The path as written in the template (API Gateway's `resource`).
    pub pattern: String,
    /// `"GET /items/{id}"` or `"$default"`.
    pub route_key: String,
    pub function: usize,
    pub payload: PayloadVersion,
    pub stage: String,
    /// The API's CORS settings, when it has any.
    pub cors: Option<Arc<CorsSpec>>,
    /// The route's JWT authorizer, when it has one.
    pub auth: Option<RouteAuth>,
    /// A function URL's route: its path prefix, and whether it streams.
    pub url: Option<UrlRoute>,
    segments: Vec<Segment>,
}

/// A function URL as a route: `/lambda-url/<LogicalId>` and what is under it.
#[derive(Debug, Clone)]
pub struct UrlRoute {
    /// `/lambda-url/<LogicalId>`, which the function does not see.
    pub prefix: String,
    /// `InvokeMode: RESPONSE_STREAM`.
    pub streaming: bool,
}

impl UrlRoute {
    /// The request's path as the function sees it: without the prefix.
    pub fn path<'a>(&self, raw_path: &'a str) -> &'a str {
        match raw_path.get(self.prefix.len()..) {
            Some(rest) if rest.starts_with('/') => rest,
            _ => "/",
        }
    }
}

/// A candidate during lookup: its rank, whether the method matched exactly, the
/// route and its path parameters.
type Candidate<'a> = (Vec<u8>, bool, &'a Arc<Route>, BTreeMap<String, String>);

/// The outcome of looking a request up.
#[derive(Debug)]
pub enum Lookup<'a> {
    Found(&'a Arc<Route>, BTreeMap<String, String>),
    /// The path exists with other methods, listed for `Allow`.
    MethodNotAllowed(Vec<String>),
    NotFound,
}

/// Every route of the template.
#[derive(Debug, Default)]
pub struct Routes {
    /// Shared, so that a request can keep its route without keeping the table.
    routes: Vec<Arc<Route>>,
}

fn parse(path: &str) -> Vec<Segment> {
    path.split('/')
        .skip(1)
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(name) => Segment::Greedy(name.to_owned()),
                    None => Segment::Param(name.to_owned()),
                },
                None => Segment::Literal(s.to_owned()),
            },
        )
        .collect()
}

/// Higher ranks are more specific. As in API Gateway, a route without a greedy
/// `{proxy+}` beats any route with one; then literal beats parameter beats greedy,
/// segment by segment.
fn rank(segments: &[Segment]) -> Vec<u8> {
    let greedy = segments.iter().any(|s| matches!(s, Segment::Greedy(_)));
    std::iter::once(u8::from(!greedy))
        .chain(segments.iter().map(|s| match s {
            Segment::Literal(_) => 3,
            Segment::Param(_) => 2,
            Segment::Greedy(_) => 1,
        }))
        .collect()
}

impl Routes {
    /// Adds a function's event as a route; a duplicate method and path is an error.
    pub fn add(&mut self, function: usize, event: &EventSpec) -> Result<(), String> {
        let duplicate = self
            .routes
            .iter()
            .find(|r| r.method == event.method && r.pattern == event.path);
        if let Some(existing) = duplicate {
            return Err(format!(
                "route {} {} is declared twice",
                existing.method, existing.pattern
            ));
        }
        let segments = if event.path == "$default" {
            Vec::new()
        } else {
            parse(&event.path)
        };
        if let Some(pos) = segments
            .iter()
            .position(|s| matches!(s, Segment::Greedy(_)))
            && pos + 1 != segments.len()
        {
            return Err(format!(
                "route {}: a greedy {{name+}} must be the last segment",
                event.path
            ));
        }
        let route_key = if event.path == "$default" {
            "$default".to_owned()
        } else {
            format!("{} {}", event.method, event.path)
        };
        self.routes.push(Arc::new(Route {
            method: event.method.clone(),
            pattern: event.path.clone(),
            route_key,
            function,
            payload: event.payload,
            stage: event.stage.clone(),
            cors: event.cors.clone(),
            auth: event.auth.clone(),
            url: None,
            segments,
        }));
        Ok(())
    }

    /// Adds a function's URL: any method on `/lambda-url/<id>`, on it with a
    /// trailing slash, and on every path under it, as payload 2.0 `$default`.
    pub fn add_url(&mut self, function: usize, id: &str, url: &FunctionUrl) {
        let prefix = format!("/lambda-url/{id}");
        for pattern in [
            prefix.clone(),
            format!("{prefix}/"),
            format!("{prefix}/{{proxy+}}"),
        ] {
            self.routes.push(Arc::new(Route {
                method: "ANY".to_owned(),
                segments: parse(&pattern),
                pattern,
                route_key: "$default".to_owned(),
                function,
                payload: PayloadVersion::V2,
                stage: "$default".to_owned(),
                cors: url.cors.clone(),
                auth: None,
                url: Some(UrlRoute {
                    prefix: prefix.clone(),
                    streaming: url.streaming,
                }),
            }));
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter().map(|r| &**r)
    }

    /// Finds the route for `method` and `path` (the raw, still-encoded path).
    pub fn lookup(&self, method: &str, path: &str) -> Lookup<'_> {
        let parts: Vec<&str> = path.split('/').skip(1).collect();
        let mut best: Option<Candidate<'_>> = None;
        let mut allowed = Vec::new();
        for route in self.routes.iter().filter(|r| r.pattern != "$default") {
            let Some(params) = matches(&route.segments, &parts) else {
                continue;
            };
            if route.method != method && route.method != "ANY" {
                allowed.push(route.method.clone());
                continue;
            }
            let key = (rank(&route.segments), route.method == method);
            if best
                .as_ref()
                .is_none_or(|(r, exact, ..)| key > (r.clone(), *exact))
            {
                best = Some((key.0, key.1, route, params));
            }
        }
        if let Some((_, _, route, params)) = best {
            return Lookup::Found(route, params);
        }
        if let Some(default) = self.routes.iter().find(|r| r.pattern == "$default") {
            return Lookup::Found(default, BTreeMap::new());
        }
        if allowed.is_empty() {
            Lookup::NotFound
        } else {
            allowed.sort();
            allowed.dedup();
            Lookup::MethodNotAllowed(allowed)
        }
    }
}

fn matches(segments: &[Segment], parts: &[&str]) -> Option<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Greedy(name) => {
                let rest = parts
                    .get(i..)
                    .filter(|r| !r.is_empty() && !r[0].is_empty())?;
                params.insert(
                    name.clone(),
                    crate::gateway::query::percent_decode(&rest.join("/")),
                );
                return Some(params);
            }
            Segment::Literal(text) => {
                if parts.get(i) != Some(&text.as_str()) {
                    return None;
                }
            }
            Segment::Param(name) => {
                let part = parts.get(i).filter(|p| !p.is_empty())?;
                params.insert(name.clone(), crate::gateway::query::percent_decode(part));
            }
        }
    }
    (parts.len() == segments.len()).then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routes: &[(&str, &str)]) -> Routes {
        let mut table = Routes::default();
        for (i, (method, path)) in routes.iter().enumerate() {
            let event = EventSpec {
                name: format!("E{i}"),
                method: method.to_string(),
                path: path.to_string(),
                payload: PayloadVersion::V2,
                stage: "$default".into(),
                cors: None,
                auth: None,
            };
            table.add(i, &event).unwrap();
        }
        table
    }

    fn found(table: &Routes, method: &str, path: &str) -> (usize, BTreeMap<String, String>) {
        match table.lookup(method, path) {
            Lookup::Found(route, params) => (route.function, params),
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn a_literal_path_beats_a_parameter_which_beats_a_greedy_path() {
        let t = table(&[
            ("GET", "/items/{proxy+}"),
            ("GET", "/items/{id}"),
            ("GET", "/items/new"),
        ]);
        assert_eq!(found(&t, "GET", "/items/new").0, 2);
        assert_eq!(
            found(&t, "GET", "/items/42"),
            (1, BTreeMap::from([("id".into(), "42".into())]))
        );
        assert_eq!(found(&t, "GET", "/items/a/b").1["proxy"], "a/b");
    }

    #[test]
    fn a_route_without_a_greedy_segment_beats_any_route_with_one() {
        let t = table(&[("GET", "/a/{proxy+}"), ("GET", "/{x}/b/c")]);
        assert_eq!(found(&t, "GET", "/a/b/c").0, 1);
        assert_eq!(found(&t, "GET", "/a/z").0, 0);
    }

    #[test]
    fn an_exact_method_beats_any_on_the_same_path() {
        let t = table(&[("ANY", "/x"), ("POST", "/x")]);
        assert_eq!(found(&t, "POST", "/x").0, 1);
        assert_eq!(found(&t, "DELETE", "/x").0, 0);
    }

    #[test]
    fn a_known_path_with_another_method_lists_the_allowed_methods() {
        let t = table(&[("GET", "/x"), ("POST", "/x"), ("GET", "/y")]);
        match t.lookup("PUT", "/x") {
            Lookup::MethodNotAllowed(allowed) => assert_eq!(allowed, ["GET", "POST"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_path_is_not_found_unless_there_is_a_default_route() {
        let t = table(&[("GET", "/x")]);
        assert!(matches!(t.lookup("GET", "/nope"), Lookup::NotFound));
        assert!(matches!(t.lookup("GET", "/x/"), Lookup::NotFound));
        let t = table(&[("GET", "/x"), ("ANY", "$default")]);
        assert_eq!(found(&t, "GET", "/nope").0, 1);
    }

    #[test]
    fn path_parameters_are_percent_decoded() {
        let t = table(&[("GET", "/u/{name}")]);
        assert_eq!(found(&t, "GET", "/u/a%20b").1["name"], "a b");
    }

    #[test]
    fn a_greedy_segment_needs_at_least_one_segment() {
        let t = table(&[("GET", "/files/{path+}")]);
        assert!(matches!(t.lookup("GET", "/files"), Lookup::NotFound));
    }
}
