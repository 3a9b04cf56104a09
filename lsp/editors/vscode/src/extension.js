// The Pipewright extension: starts `pw lsp` and connects VS Code to it. Everything the editor
// shows (diagnostics, hovers, completions, formatting...) comes from the server.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  const command = vscode.workspace.getConfiguration("pipewright").get("server.path") || "pw";
  return { command, args: ["lsp"] };
}

async function start(context) {
  client = new LanguageClient(
    "pipewright",
    "Pipewright",
    serverOptions(),
    {
      documentSelector: [{ scheme: "file", language: "pipewright" }],
      synchronize: {
        fileEvents: vscode.workspace.createFileSystemWatcher("**/{*.pw,pipewright.toml}"),
      },
    },
  );
  await client.start();
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand("pipewright.restartServer", async () => {
      if (client) {
        await client.stop();
      }
      await start(context);
    }),
  );
  try {
    await start(context);
  } catch (error) {
    vscode.window.showErrorMessage(
      `Pipewright: could not start \`pw lsp\` (${error}). Install pw or set pipewright.server.path.`,
    );
  }
}

async function deactivate() {
  if (client) {
    await client.stop();
  }
}

module.exports = { activate, deactivate };
