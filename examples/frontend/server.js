// The example's frontend: serves the page (and, server-side, the API's
// current count, read from API_URL) on port 3000. On SIGTERM, which berth
// forwards from `docker stop`, it stops accepting and exits once the open
// requests are done.
"use strict";
const http = require("http");

const api = process.env.API_URL || "http://backend:8000";
const port = 3000;

function apiVisits() {
  return new Promise((resolve, reject) => {
    const req = http.get(`${api}/visits`, { timeout: 2000 }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`API ${res.statusCode}`))));
    });
    req.on("timeout", () => req.destroy(new Error("API timed out")));
    req.on("error", reject);
  });
}

const server = http.createServer(async (req, res) => {
  if (req.url !== "/") {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    return;
  }
  let visits;
  try {
    visits = await apiVisits();
  } catch (e) {
    visits = { error: e.message };
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html>
<title>berth example</title>
<h1>berth example</h1>
<p>API says: <code>${JSON.stringify(visits).replace(/</g, "&lt;")}</code></p>
<form method="post" action="/api/visits"><button>visit</button></form>
`);
});

server.listen(port, () => console.log(`frontend: listening on ${port}, API at ${api}`));

process.on("SIGTERM", () => {
  console.log("frontend: SIGTERM, closing");
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
