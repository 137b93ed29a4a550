//! Request samples for every operation (`x-codeSamples`, which Redoc renders beside it): curl,
//! TypeScript with a client generated from the document (openapi-typescript and
//! openapi-fetch), and Python with requests. Built from each operation's method, path and
//! request example, so that they cannot drift from the document; `make test` type-checks the
//! TypeScript, compiles the Python, parses the shell and runs some of them against the API.

use serde_json::{json, Map, Value};

/// What a sample sends.
struct Request<'a> {
    method: &'a str,
    path: &'a str,
    /// Each `{param}` of the path with the environment variable that holds its value.
    ids: Vec<(String, String)>,
    body: Body,
    authorized: bool,
    answer: Answer,
}

enum Body {
    None,
    Json(Value),
    /// A form whose `cv` field is a PDF file.
    Cv,
}

/// How the success answer is read.
enum Answer {
    Json,
    Text,
    Redirect,
}

pub fn add_to(document: &mut Value) {
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if operation.get("operationId").is_none() {
                continue;
            }
            let request = Request::of(method, path, operation);
            operation["x-codeSamples"] = json!([
                {"lang": "Shell", "label": "curl", "source": request.curl()},
                {"lang": "TypeScript", "label": "TypeScript", "source": request.typescript()},
                {"lang": "Python", "label": "Python", "source": request.python()},
            ]);
        }
    }
}

impl<'a> Request<'a> {
    fn of(method: &'a str, path: &'a str, operation: &Value) -> Self {
        let segments: Vec<&str> = path.split('/').collect();
        let ids = segments
            .iter()
            .enumerate()
            .filter_map(|(i, segment)| {
                let name = segment.strip_prefix('{')?.strip_suffix('}')?;
                // `{id}` is the id of what the segment before names: `/dossiers/{id}` is
                // a dossier's.
                let variable = match name {
                    "id" => format!(
                        "{}_ID",
                        segments[i - 1].trim_end_matches('s').to_uppercase()
                    ),
                    other => other.to_uppercase(),
                };
                Some((name.to_string(), variable))
            })
            .collect();
        let content = &operation["requestBody"]["content"];
        let body = match content.as_object().and_then(|c| c.iter().next()) {
            Some((media, _)) if media == "multipart/form-data" => Body::Cv,
            Some((_, media)) if media.get("example").is_some() => {
                let example = media["example"].clone();
                assert!(
                    !example.to_string().contains('\''),
                    "request examples hold no single quotes (the curl sample quotes them)"
                );
                Body::Json(example)
            }
            _ => Body::None,
        };
        let responses = &operation["responses"];
        let answer = if responses.get("302").is_some() {
            Answer::Redirect
        } else if ["200", "201"].iter().any(|status| {
            responses[*status]["content"]
                .as_object()
                .is_some_and(|c| !c.is_empty() && !c.contains_key("application/json"))
        }) {
            Answer::Text
        } else {
            Answer::Json
        };
        Self {
            method,
            path,
            ids,
            body,
            authorized: operation.get("security") != Some(&json!([])),
            answer,
        }
    }

    /// The path with each id as `interpolate` writes the variable that holds it.
    fn path_with(&self, interpolate: impl Fn(&str) -> String) -> String {
        let mut path = self.path.to_string();
        for (name, variable) in &self.ids {
            path = path.replace(&format!("{{{name}}}"), &interpolate(variable));
        }
        path
    }

    fn curl(&self) -> String {
        let method = self.method.to_uppercase();
        let mut lines = vec![match (&self.answer, method.as_str()) {
            (Answer::Redirect, _) => format!(
                "curl -s -o /dev/null -w '%{{redirect_url}}\\n' \"$LEADGRID_API{}\"",
                self.path_with(|v| format!("${v}"))
            ),
            (_, "GET") => format!(
                "curl \"$LEADGRID_API{}\"",
                self.path_with(|v| format!("${v}"))
            ),
            _ => format!(
                "curl -X {method} \"$LEADGRID_API{}\"",
                self.path_with(|v| format!("${v}"))
            ),
        }];
        if self.authorized {
            lines.push("-H \"Authorization: Bearer $LEADGRID_KEY\"".into());
        }
        match &self.body {
            Body::None => {}
            Body::Json(example) => {
                lines.push("-H \"Content-Type: application/json\"".into());
                lines.push(format!("-d '{example}'"));
            }
            Body::Cv => lines.push("-F \"cv=@resume.pdf;type=application/pdf\"".into()),
        }
        lines.join(" \\\n  ")
    }

    fn typescript(&self) -> String {
        let mut source = self.typescript_client();
        if matches!(self.body, Body::Cv) {
            source.push_str("const pdf = await readFile(\"resume.pdf\");\n");
        }
        let init = self.typescript_init();
        let call = format!("client.{}(\"{}\"", self.method.to_uppercase(), self.path);
        let call = if init.is_empty() {
            format!("{call})")
        } else {
            format!("{call}, {{\n  {},\n}})", init.join(",\n  "))
        };
        match self.answer {
            Answer::Redirect => source.push_str(&format!(
                "const {{ response }} = await {call};\nconsole.log(response.headers.get(\"Location\"));\n"
            )),
            _ => source.push_str(&format!(
                "const {{ data, error }} = await {call};\nconsole.log(data ?? error);\n"
            )),
        }
        source
    }

    /// The imports and the client the TypeScript sample calls.
    fn typescript_client(&self) -> String {
        let mut source = String::new();
        if matches!(self.body, Body::Cv) {
            source.push_str("import { readFile } from \"node:fs/promises\";\n");
        }
        source.push_str(concat!(
            "import createClient from \"openapi-fetch\";\n",
            "// npx openapi-typescript \"$LEADGRID_API/openapi.json\" -o leadgrid.d.ts\n",
            "import type { paths } from \"./leadgrid.js\";\n\n",
            "const client = createClient<paths>({\n",
            "  baseUrl: process.env.LEADGRID_API ?? \"http://127.0.0.1:3000/api/v1\",\n",
        ));
        if self.authorized {
            source
                .push_str("  headers: { Authorization: `Bearer ${process.env.LEADGRID_KEY}` },\n");
        }
        source.push_str("});\n\n");
        source
    }

    /// The fields of the TypeScript call's second argument: ids, body and how to read the
    /// answer.
    fn typescript_init(&self) -> Vec<String> {
        let mut init = Vec::new();
        if !self.ids.is_empty() {
            let ids: Vec<String> = self
                .ids
                .iter()
                .map(|(name, variable)| format!("{name}: process.env.{variable}!"))
                .collect();
            init.push(format!("params: {{ path: {{ {} }} }}", ids.join(", ")));
        }
        match &self.body {
            Body::None => {}
            Body::Json(example) => init.push(format!("body: {}", typescript_literal(example))),
            Body::Cv => {
                init.push("body: { cv: \"resume.pdf\" }".into());
                init.push(
                    "bodySerializer() {\n    \
                     const form = new FormData();\n    \
                     form.append(\"cv\", new Blob([new Uint8Array(pdf)], { type: \"application/pdf\" }), \"resume.pdf\");\n    \
                     return form;\n  }"
                        .into(),
                );
            }
        }
        match self.answer {
            Answer::Json => {}
            Answer::Text => init.push("parseAs: \"text\"".into()),
            Answer::Redirect => init.push("redirect: \"manual\"".into()),
        }
        init
    }

    fn python(&self) -> String {
        let mut source = String::from(
            "import os\n\nimport requests\n\n\
             API = os.environ.get(\"LEADGRID_API\", \"http://127.0.0.1:3000/api/v1\")\n",
        );
        let mut arguments = vec![format!(
            "f\"{{API}}{}\"",
            self.path_with(|v| format!("{{os.environ['{v}']}}"))
        )];
        if self.authorized {
            source.push_str(
                "HEADERS = {\"Authorization\": f\"Bearer {os.environ['LEADGRID_KEY']}\"}\n",
            );
            arguments.push("headers=HEADERS".into());
        }
        source.push('\n');
        match &self.body {
            Body::None => {}
            Body::Json(example) => arguments.push(format!("json={}", python_literal(example))),
            Body::Cv => arguments.push(
                "files={\"cv\": (\"resume.pdf\", open(\"resume.pdf\", \"rb\"), \"application/pdf\")}".into(),
            ),
        }
        let read = match self.answer {
            Answer::Json => "response.json()",
            Answer::Text => "response.text[:200]",
            Answer::Redirect => {
                arguments.push("allow_redirects=False".into());
                "response.headers[\"Location\"]"
            }
        };
        source.push_str(&format!(
            "response = requests.{}(\n    {},\n)\nprint(response.status_code, {read})\n",
            self.method,
            arguments.join(",\n    ")
        ));
        source
    }
}

/// JSON as a TypeScript literal, as TypeScript formatters write it: `{ key: value }`, keys
/// unquoted where they are identifiers.
fn typescript_literal(value: &Value) -> String {
    match value {
        Value::Object(map) => format!("{{ {} }}", fields(map, typescript_key, typescript_literal)),
        Value::Array(items) => list(items, typescript_literal),
        other => other.to_string(),
    }
}

fn typescript_key(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        key.to_string()
    } else {
        Value::from(key).to_string()
    }
}

/// JSON as a Python literal, as Python formatters write it: `{"key": value}`, with `None`,
/// `True` and `False` for `null`, `true` and `false`.
fn python_literal(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Object(map) => format!(
            "{{{}}}",
            fields(map, |key| Value::from(key).to_string(), python_literal)
        ),
        Value::Array(items) => list(items, python_literal),
        other => other.to_string(),
    }
}

/// An object's `key: value` pairs, comma-separated.
fn fields(
    map: &Map<String, Value>,
    key: impl Fn(&str) -> String,
    value: fn(&Value) -> String,
) -> String {
    let fields: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}: {}", key(k), value(v)))
        .collect();
    fields.join(", ")
}

fn list(items: &[Value], item: fn(&Value) -> String) -> String {
    let items: Vec<String> = items.iter().map(item).collect();
    format!("[{}]", items.join(", "))
}
