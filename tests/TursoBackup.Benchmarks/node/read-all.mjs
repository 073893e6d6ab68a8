// The remote-dump benchmark's Node peer: reads every row of every table of a libSQL server over the same protocol
// (Hrana over HTTP, POST /v2/pipeline with "execute" requests), page by page in rowid order as a dump tool would, and
// prints "rows <n> seconds <s>" (timed inside Node, start-up excluded). It uses Node's own fetch and JSON, no package:
// the official @libsql/client (0.18.0) cannot talk to tursodb 0.7.0 — each of its requests ends with a "close"
// request, which tursodb rejects ("unknown variant `close`", HTTP 500).
//   node read-all.mjs http://127.0.0.1:PORT [pageRows]
const url = process.argv[2] + "/v2/pipeline";
const pageRows = Number(process.argv[3] ?? 5000);

async function execute(sql, args = []) {
  const body = { requests: [{ type: "execute", stmt: { sql, args } }] };
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  const json = await response.json();
  const r = json.results[0];
  if (r.type !== "ok") throw new Error(JSON.stringify(r.error));
  return r.response.result;
}

const started = process.hrtime.bigint();
const tables = await execute(
  "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__turso_internal_%' ORDER BY name");
let rows = 0;
for (const t of tables.rows) {
  const name = '"' + String(t[0].value).replaceAll('"', '""') + '"';
  let last = null;
  for (;;) {
    const limit = { type: "integer", value: String(pageRows) };
    const page = last === null
      ? await execute(`SELECT rowid, * FROM ${name} ORDER BY rowid LIMIT ?`, [limit])
      : await execute(`SELECT rowid, * FROM ${name} WHERE rowid > ? ORDER BY rowid LIMIT ?`, [last, limit]);
    rows += page.rows.length;
    if (page.rows.length < pageRows) break;
    last = page.rows[page.rows.length - 1][0];
  }
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(`rows ${rows} seconds ${seconds}`);
