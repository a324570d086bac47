// A recording pass-through in front of the mock model server (llmock), for mock_model.py.
//
// Usage: node mock_model_recorder.js UPSTREAM_PORT LOG_FILE [LISTEN_PORT]
// Listens on 127.0.0.1 at LISTEN_PORT (default: a free port; the molecule scenario real_runtime
// runs it as a unit at a fixed one), prints that port on stdout, then forwards every request
// to 127.0.0.1:UPSTREAM_PORT unchanged and streams the answer back unchanged (SSE included).
// Before forwarding, it appends one JSON line to LOG_FILE: {"method", "path", "body"} with the
// WHOLE request body as text (gzip, deflate and br bodies decoded). llmock's own journal cuts
// bodies over 64 KB (Claude's requests are ~85 KB), so "did the next request carry the earlier
// turn" is read from here.
"use strict";
const fs = require("fs");
const http = require("http");
const zlib = require("zlib");

const upstreamPort = Number(process.argv[2]);
const logFile = process.argv[3];
const listenPort = Number(process.argv[4] || 0);

function decode(raw, encoding) {
  try {
    switch ((encoding || "").trim().toLowerCase()) {
      case "gzip": return zlib.gunzipSync(raw).toString("utf8");
      case "deflate": return zlib.inflateSync(raw).toString("utf8");
      case "br": return zlib.brotliDecompressSync(raw).toString("utf8");
      case "": case "identity": return raw.toString("utf8");
      default: return "<" + encoding + " body, " + raw.length + " bytes, not decoded>";
    }
  } catch (err) {
    return "<undecodable " + encoding + " body: " + err.message + ">";
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const raw = Buffer.concat(chunks);
    if (!req.url.startsWith("/__aimock")) {
      const line = JSON.stringify({
        method: req.method,
        path: req.url,
        body: decode(raw, req.headers["content-encoding"]),
      });
      fs.appendFileSync(logFile, line + "\n");
    }
    const headers = Object.assign({}, req.headers);
    delete headers["transfer-encoding"];
    headers["content-length"] = String(raw.length);
    const upstream = http.request(
      { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end("mock_model_recorder: upstream error: " + err.message);
    });
    upstream.end(raw);
  });
});
server.keepAliveTimeout = 60000;
server.listen(listenPort, "127.0.0.1", () => {
  process.stdout.write(server.address().port + "\n");
});
