// server.mjs: a small stdio MCP server with one tool, fetch(url), built on
// the official SDK. sluice's end-to-end test runs it under `sluice run`.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer({ name: "sluice-fetch-test", version: "1.0.0" });

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

await server.connect(new StdioServerTransport());
