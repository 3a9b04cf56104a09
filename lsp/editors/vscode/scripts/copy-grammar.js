// Copies the TextMate grammar, which is maintained with the language in `grammar/`, into the
// extension.
const fs = require("fs");
const path = require("path");

const source = path.join(__dirname, "..", "..", "..", "..", "grammar", "pipewright.tmLanguage.json");
const target = path.join(__dirname, "..", "syntaxes", "pipewright.tmLanguage.json");

fs.mkdirSync(path.dirname(target), { recursive: true });
JSON.parse(fs.readFileSync(source, "utf8")); // refuse to ship a grammar that is not JSON
fs.copyFileSync(source, target);
console.log(`copied ${path.relative(process.cwd(), source)} -> ${path.relative(process.cwd(), target)}`);
