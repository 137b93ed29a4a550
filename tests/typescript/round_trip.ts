// A client generated from the served OpenAPI document (openapi-typescript), used with
// openapi-fetch as an integrator would. `tsc --noEmit` type-checks it against the
// generated types, then tsx runs it against the test stack. Run by
// tests/tests/api/contract/typescript_client.rs (`a_generated_typescript_client_round_trips`), which
// generates `schema.d.ts` beside a copy of this file first.
//
// The type-level lines below are there to fail `tsc` when the document has a hole a
// generator sees: a required field that is not, a header that is not declared, a form
// that refuses its own file field.

import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];

// Keys a type declares, without its `[name: string]: unknown` index signature.
type Declared<T> = keyof { [K in keyof T as string extends K ? never : K]: T[K] };
type Is<T extends true> = T;

// Creates answer the ETag they send (`If-Match` needs it).
export type CreatedDossierHasETag = Is<
  "ETag" extends Declared<paths["/dossiers"]["post"]["responses"][201]["headers"]> ? true : false
>;
export type CreatedContactHasETag = Is<
  "ETag" extends Declared<paths["/contacts"]["post"]["responses"][201]["headers"]> ? true : false
>;
// `full_name` is required to create a contact, and only to create one.
export type ContactNeedsAName = Is<"full_name" extends RequiredKeys<Schemas["ContactCreate"]> ? true : false>;
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
// The multipart create takes its `cv` file next to the dossier's fields.
export type FormTakesCv = Is<"cv" extends keyof Schemas["DossierCreateForm"] ? true : false>;
// Errors name the field or parameter at fault.
export type ErrorsHaveParam = Is<"param" extends keyof Schemas["Error"]["error"] ? true : false>;

const [base, key] = process.argv.slice(2);
if (!base || !key) throw new Error("usage: round_trip.ts <base URL, …/api/v1> <API key>");

const client = createClient<paths>({
  baseUrl: base,
  headers: { Authorization: `Bearer ${key}` },
});

function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`round trip: ${what}`);
}

function need<T>(value: T | undefined, what: string): T {
  check(value !== undefined, what);
  return value;
}

const run = Date.now().toString(36);

// A dossier, created with an Idempotency-Key, then read back.
const created = await client.POST("/dossiers", {
  params: { header: { "Idempotency-Key": `ts-${run}` } },
  body: { type: "sales", name: `TS deal ${run}`, deal_size: 62000, deal_currency: "EUR" },
});
const dossier = need(created.data, `create: ${JSON.stringify(created.error)}`).data;
check(created.response.status === 201, "create answers 201");
const etag = need(created.response.headers.get("ETag") ?? undefined, "create answers an ETag");

const read = await client.GET("/dossiers/{id}", { params: { path: { id: dossier.id } } });
check(need(read.data, "get").data.name === dossier.name, "get returns what was created");

// PATCH with If-Match: the current ETag succeeds, the old one is refused.
const patched = await client.PATCH("/dossiers/{id}", {
  params: { path: { id: dossier.id }, header: { "If-Match": etag } },
  body: { name: `TS deal ${run} (renamed)`, deal_size: null },
});
check(need(patched.data, `patch: ${JSON.stringify(patched.error)}`).data.deal_size === null, "null clears");
const stale = await client.PATCH("/dossiers/{id}", {
  params: { path: { id: dossier.id }, header: { "If-Match": etag } },
  body: { name: "lost update" },
});
check(stale.response.status === 412, "a stale If-Match is 412");
check(stale.error?.error.code === "precondition_failed", "412 in the error shape");

// A 400 names its field.
const refused = await client.POST("/dossiers", {
  body: { type: "sales", name: "x", deal_currency: "EURO" },
});
check(refused.response.status === 400, "a bad currency is 400");
check(refused.error?.error.param === "deal_currency", "the 400 names deal_currency");

// The documented Idempotency-Key pattern is what the API accepts: a key it matches is
// taken, a key it does not is 400 naming the header.
const document = (await (await fetch(`${base}/openapi.json`)).json()) as {
  components: { parameters: { IdempotencyKey: { schema: { pattern: string; maxLength: number } } } };
};
const keySchema = document.components.parameters.IdempotencyKey.schema;
const keyPattern = new RegExp(keySchema.pattern);
for (const candidate of [" ", "k", "a b", "x".repeat(255), "x".repeat(256), "tab\tinside", `k~${run}!`]) {
  const matches = keyPattern.test(candidate) && candidate.length <= keySchema.maxLength;
  const keyed = await client.POST("/contacts", {
    params: { header: { "Idempotency-Key": `${candidate}` } },
    body: { full_name: `Keyed ${run}` },
  });
  const taken = keyed.response.status === 201 || keyed.response.status === 200;
  check(taken === matches, `Idempotency-Key ${JSON.stringify(candidate)}: pattern ${matches}, answer ${keyed.response.status}`);
  if (!matches) check(keyed.error?.error.param === "Idempotency-Key", "the 400 names the header");
}

// A contact, linked to the dossier, and a note on it.
const contact = need(
  (
    await client.POST("/contacts", {
      body: { full_name: `TS Person ${run}`, email: `ts-${run}@example.com`, kind: ["prospect"] },
    })
  ).data,
  "create contact",
).data;
// @ts-expect-error: a contact cannot be created without `full_name`.
await client.POST("/contacts", { body: { email: `nameless-${run}@example.com` } }).catch(() => undefined);

const linked = await client.POST("/dossiers/{id}/contacts", {
  params: { path: { id: dossier.id } },
  body: { contact_id: contact.id, role_on_dossier: "decision_maker", is_primary: true },
});
check(linked.response.status === 201 || linked.response.status === 200, `link: ${linked.response.status}`);
const contacts = await client.GET("/dossiers/{id}/contacts", { params: { path: { id: dossier.id } } });
const first = need(need(contacts.data, "linked contacts").data[0], "one linked contact");
check(first.contact_id === contact.id && first.is_primary, "the linked contact is primary");

const note = await client.POST("/dossiers/{id}/notes", {
  params: { path: { id: dossier.id } },
  body: { content: "Called; sending the proposal Friday." },
});
check(note.response.status === 201, `note: ${note.response.status}`);

// A dossier with its CV, in one multipart call.
const form = await client.POST("/dossiers", {
  body: { type: "candidate", name: `TS Candidate ${run}`, cv: "%PDF-1.7\n%%EOF\n" },
  bodySerializer(body) {
    const data = new FormData();
    for (const [name, value] of Object.entries(body)) {
      if (name === "cv") {
        data.append(name, new Blob([String(value)], { type: "application/pdf" }), "cv.pdf");
      } else {
        data.append(name, String(value));
      }
    }
    return data;
  },
});
const withCv = need(form.data, `multipart create: ${JSON.stringify(form.error)}`).data;
check(withCv.cv_url !== null, "the CV is attached");

// Cursor paging over every dossier of the organization: no repeats, none missed.
const total = need((await client.GET("/dossiers", { params: { query: { per_page: 1 } } })).data, "list")
  .meta.total;
const seen = new Set<string>();
let cursor: string | undefined;
let pages = 0;
do {
  const page = need(
    (await client.GET("/dossiers", { params: { query: { per_page: 1, ...(cursor ? { cursor } : {}) } } })).data,
    "cursor page",
  );
  for (const item of page.data) {
    check(!seen.has(item.id), "a cursor page repeats nothing");
    seen.add(item.id);
  }
  cursor = page.meta.next_cursor ?? undefined;
  pages += 1;
} while (cursor);
check(seen.size === total && seen.has(dossier.id) && seen.has(withCv.id), "cursor pages cover the list");

console.log(JSON.stringify({ dossier: dossier.id, contact: contact.id, pages, total }));
