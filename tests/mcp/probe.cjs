// probe.cjs: loaded with NODE_OPTIONS=--require by the end-to-end wrap test,
// so a server that needs no network still asks for one name, which its
// policy denies: the audit record of that denial names the server. Prints
// nothing (stdout is the MCP stream).
require("node:dns").lookup("probe.example.com", () => {});
