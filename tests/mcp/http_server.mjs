// http_server.mjs PORT: a Streamable-HTTP MCP server (the SDK's
// StreamableHTTPServerTransport, stateless: one server and transport per
// request) on 127.0.0.1:PORT with one tool, fetch(url). sluice's
// publish_test.sh runs it under `sluice run --publish`.
import http from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

function makeServer() {
  const server = new McpServer({ name: "sluice-http-test", version: "1.0.0" });
  server.registerTool(
    "fetch",
    { description: "GET a URL and return its status and body", inputSchema: { url: z.string() } },
    async ({ url }) => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        const body = (await res.text()).trim();
        return { content: [{ type: "text", text: `${res.status} ${body}` }] };
      } catch (e) {
        const why = e.cause?.code ?? e.name ?? "error";
        return { content: [{ type: "text", text: `fetch failed: ${why}` }], isError: true };
      }
    },
  );
  return server;
}

const port = Number(process.argv[2]);
http
  .createServer(async (req, res) => {
    if (req.method !== "POST" || req.url !== "/mcp") {
      res.writeHead(405).end();
      return;
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const server = makeServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, JSON.parse(Buffer.concat(chunks).toString()));
  })
  .listen(port, "127.0.0.1", () => console.error(`listening on 127.0.0.1:${port}`));
