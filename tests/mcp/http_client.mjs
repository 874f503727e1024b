// http_client.mjs URL FETCH_URL...: the SDK's Streamable-HTTP client:
// connect to the MCP server at URL, list its tools, call fetch for each
// FETCH_URL. One line per step on stdout, for publish_test.sh to check.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, ...fetches] = process.argv.slice(2);
const client = new Client({ name: "sluice-publish-test", version: "1.0.0" });
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  console.log(`initialize: ${client.getServerVersion()?.name}`);
  const { tools } = await client.listTools();
  console.log(`tools/list: ${tools.map((t) => t.name).join(",")}`);
  for (const u of fetches) {
    const r = await client.callTool({ name: "fetch", arguments: { url: u } });
    console.log(`tools/call ${u}: ${r.isError ? "error " : ""}${r.content.map((c) => c.text).join(" ")}`);
  }
  await client.close();
} catch (e) {
  console.log(`client error: ${e.message}`);
  process.exit(1);
}
