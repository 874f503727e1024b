// drive_config.mjs CONFIG KEY CALLS STDERR_FILE: start MCP server KEY exactly
// as the client config CONFIG (JSON, mcpServers) says, command, args, env
// and cwd, with the SDK's StdioClientTransport (which, like the clients,
// adds HOME, PATH, USER and the like to the entry's env), then initialize,
// tools/list and tools/call for each [label, tool, arguments] in CALLS.
// Prints "initialize: NAME VERSION", "tools/list: A,B,...", "call LABEL:
// [error ]TEXT" (newlines as \n); the server's stderr goes to STDERR_FILE.
// (a JSON object or list compacted). Exits 1 on any failure, or when a step takes longer than 30 s.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { createWriteStream, readFileSync } from "node:fs";

// JSON text (a graph) on one line, compact; other text as it is
const compact = (t) => { try { const v = JSON.parse(t); return typeof v === "object" ? JSON.stringify(v) : t; } catch { return t; } };
const [config, key, callsJson, stderrFile] = process.argv.slice(2);
const entry = JSON.parse(readFileSync(config, "utf8")).mcpServers[key];
const timer = setTimeout(() => { console.log("timed out"); process.exit(1); }, 30000);
const transport = new StdioClientTransport({
	command: entry.command, args: entry.args ?? [], env: entry.env, cwd: entry.cwd, stderr: "pipe",
});
const errOut = createWriteStream(stderrFile);
transport.stderr.pipe(errOut);
const client = new Client({ name: "sluice-mcp-wrap-test", version: "1.0.0" });
try {
	await client.connect(transport);
	const info = client.getServerVersion();
	console.log(`initialize: ${info.name} ${info.version}`);
	const tools = (await client.listTools()).tools.map((t) => t.name).sort();
	console.log(`tools/list: ${tools.join(",")}`);
	for (const [label, name, args] of JSON.parse(callsJson)) {
		const r = await client.callTool({ name, arguments: args });
		const text = (r.content ?? []).map((c) => c.type === "text" ? compact(c.text) : `[${c.type}]`).join(" | ");
		console.log(`call ${label}: ${r.isError ? "error " : ""}${text.replace(/\n/g, "\\n")}`);
	}
	await client.close();
} catch (e) {
	console.log(`failed: ${e.message}`);
	process.exitCode = 1;
}
clearTimeout(timer);
await new Promise((done) => errOut.end(done));
