/**
 * The CI examples (examples/ci/, issue 15 point 5) work as written: each parses as YAML without
 * error or warning, runs only real cconv commands with their declared options (the yargs
 * definitions of src/cli/usage/), passes cconv only files written earlier in the same job (private
 * keys from a named secret, into a 0600 file) and only Docker daemon images the job made, and
 * nothing runs the unrelated npm package `cconv`. The checker itself is shown to catch the faults
 * of the snippets the README carried before (OLD_*), and a few more made by hand.
 */
import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCi, declaredCommands, FILE_FLAGS, foreignCconv, shellCommands } from '../helpers/ci-examples.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = ['examples/ci/github-actions.yml', 'examples/ci/azure-pipelines.yml'];
const commands = await declaredCommands();
const read = (path: string) => readFile(join(root, path), 'utf8');

/** README.md's GitHub Actions snippet before the examples moved to files (commit aaf2ff8). */
const OLD_GITHUB = `permissions: { id-token: write, contents: read }
steps:
  - uses: actions/checkout@v4
  - run: docker build -t myapp:\${{ github.sha }} .
  - run: npm pack git+https://HOST/PATH/cconv.git#TAG && npm install -g ./cconv-dev-cconv-0.1.0.tgz   # a pinned release, see "Install"
  - uses: azure/login@v2
    with: { client-id: \${{ vars.AZURE_CLIENT_ID }}, tenant-id: \${{ vars.AZURE_TENANT_ID }}, subscription-id: \${{ vars.AZURE_SUBSCRIPTION_ID }} }
  - run: |
      TOKEN=$(az acr login -n myacr --expose-token --query accessToken -o tsv)
      echo "$TOKEN" | cconv build myapp:\${{ github.sha }} --runtime-image myacr.azurecr.io/gramine-runtime:1.9 \\
        --push myacr.azurecr.io/myapp:\${{ github.sha }} --username 00000000-0000-0000-0000-000000000000 --password-stdin \\
        --key "$RUNNER_TEMP/enclave-key.pem" --json > build.json
    env: { SOURCE_DATE_EPOCH: "1767225600" }
`;

/** README.md's Azure Pipelines snippet before the examples moved to files (commit aaf2ff8). */
const OLD_AZURE = `steps:
  - task: AzureCLI@2
    inputs:
      azureSubscription: my-service-connection
      scriptType: bash
      scriptLocation: inlineScript
      inlineScript: |
        docker build -t myapp:$(Build.BuildId) .
        npm pack git+https://HOST/PATH/cconv.git#TAG && npm install -g ./cconv-dev-cconv-0.1.0.tgz   # a pinned release, see "Install"
        az acr login -n myacr --expose-token --query accessToken -o tsv | cconv build myapp:$(Build.BuildId) \\
          --runtime-image myacr.azurecr.io/gramine-runtime:1.9 --push myacr.azurecr.io/myapp:$(Build.BuildId) \\
          --username 00000000-0000-0000-0000-000000000000 --password-stdin --signer-cmd "$(SIGNER_CMD)" --signer-pubkey enclave.pub.pem --json
`;

/** A line of the first README CI snippet (commit 2ddf24e). */
const OLD_NPX = '      echo "$TOKEN" | npx cconv build myapp:${{ github.sha }} --runtime-image myacr.azurecr.io/gramine-runtime:1.9 \\';

for (const path of EXAMPLES) {
  test(`${path} parses, and every cconv flag, key file and daemon image in it checks out`, async (t) => {
    const { problems, calls } = checkCi(await read(path), commands);
    t.deepEqual(problems, []);
    t.true(calls.includes('cconv build') && calls.includes('cconv verify'), `cconv build and verify are found and checked: ${calls.join(', ')}`);
  });
}

test('the README links both examples and carries no CI snippet the checker has not passed', async (t) => {
  const readme = await read('README.md');
  for (const path of EXAMPLES) t.true(readme.includes(`](${path})`), `README links ${path}`);
  for (const [, block] of readme.matchAll(/```ya?ml\n([\s\S]*?)```/g)) {
    if (/\bcconv\s/.test(block!)) t.deepEqual(checkCi(block!, commands).problems, [], block);
  }
});

test('nothing in README.md or examples/ runs the unrelated npm package cconv', async (t) => {
  const files = ['README.md', ...(await readdir(join(root, 'examples'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length))];
  for (const file of files) t.deepEqual(foreignCconv(await read(file)), [], file);
  t.deepEqual(foreignCconv(`${OLD_NPX}\nnpx --yes cconv --version\nnpm i -g cconv`).length, 3);
  t.deepEqual(foreignCconv('npm install -g @cconv-dev/cconv\nnpm install -g ./cconv-dev-cconv-0.1.0.tgz\nnpm run cconv -- --help'), []);
});

test('the old GitHub Actions snippet fails: its flow mapping holds ${{ }}, and its --key file is never written', (t) => {
  t.true(checkCi(OLD_GITHUB, commands).problems.some((p) => p.startsWith('YAML: ')));
  const blocks = OLD_GITHUB.replace(/with: \{ (.*) \}/, (_, m: string) => `with:\n${m.split(', ').map((kv) => `      ${kv}`).join('\n')}`).replace(/env: \{ (.*) \}/, 'env:\n      $1');
  const { problems } = checkCi(blocks, commands);
  t.true(problems.some((p) => p.includes('--key $RUNNER_TEMP/enclave-key.pem: no earlier command')), problems.join('\n'));
  t.true(problems.some((p) => p.includes('myacr.azurecr.io/gramine-runtime:1.9 is a Docker daemon image')), problems.join('\n'));
});

test('the old Azure Pipelines snippet fails: its --signer-pubkey file is never written, its runtime image is not in the daemon', (t) => {
  const { problems } = checkCi(OLD_AZURE, commands);
  t.true(problems.some((p) => p.includes('--signer-pubkey enclave.pub.pem: no earlier command')), problems.join('\n'));
  t.true(problems.some((p) => p.includes('myacr.azurecr.io/gramine-runtime:1.9 is a Docker daemon image')), problems.join('\n'));
});

test('the checker catches an unknown command or flag, a key not from a secret, and a key file not made 0600 first', async (t) => {
  const github = await read(EXAMPLES[0]!);
  const azure = await read(EXAMPLES[1]!);
  const problemsOf = (text: string) => checkCi(text, commands).problems.join('\n');
  t.regex(problemsOf(github.replace('cconv verify', 'cconv verfy')), /cconv verfy: no such command/);
  t.regex(problemsOf(github.replace('--expect-mrenclave', '--expect-mr-enclave')), /--expect-mr-enclave: not an option of cconv verify/);
  t.regex(problemsOf(github.replace('--keyless \\', '--keyless --expect-mrenclave 00 \\')), /--expect-mrenclave: not an option of cconv attest sign/);
  t.regex(problemsOf(github.replace('${{ secrets.ENCLAVE_SIGNING_KEY }}', '${{ vars.ENCLAVE_SIGNING_KEY }}')), /--key \$RUNNER_TEMP\/enclave-key.pem: a private key must be written from a named secret/);
  t.regex(problemsOf(github.replace(/ *install -m 600 .*\n/, '')), /a private key must be written from a named secret into a file made 0600 first/);
  t.regex(problemsOf(github.replace(/printf .*\n/, 'cconv keygen --force "$RUNNER_TEMP/enclave-key.pem"\n')), /a private key must be written from a named secret/);
  t.regex(problemsOf(github.replace('--key "$RUNNER_TEMP/enclave-key.pem"', '--key enclave-key.pem')), /--key enclave-key.pem: no earlier command in the job writes it/);
  t.regex(problemsOf(azure.replace('name: enclaveKey', 'name: otherKey')), /--key .*cconv-enclave-key.pem: a private key must be written from a named secret/);
  t.regex(problemsOf(azure.replace('docker build -t', 'docker build --label x')), /myapp:\$\(Build.SourceVersion\) is a Docker daemon image/);
  t.regex(problemsOf(github.replace('cconv verify', 'cconv --jsn verify')), /--jsn: not a global option/);
});

test('the checker reads shell: continuations, quotes, substitutions, redirections, comments', (t) => {
  const script = 'a="$(jq -r .x "$o/b.json")" # c\nprintf \'%s\' "$K" 2>&1 > "$T/k.pem" && cat <in |\n  cconv build \\\n    x --key "$T/k.pem"';
  t.deepEqual(shellCommands(script), [
    { words: ['jq', '-r', '.x', '$o/b.json'], writes: [] },
    { words: ['a=$(jq -r .x "$o/b.json")'], writes: [] },
    { words: ['printf', '%s', '$K'], writes: ['$T/k.pem'] },
    { words: ['cat'], writes: [] },
    { words: ['cconv', 'build', 'x', '--key', '$T/k.pem'], writes: [] },
  ]);
  t.throws(() => shellCommands('cat > k <<EOF\nkey\nEOF'), { message: /here-documents/ });
});

test('every flag FILE_FLAGS knows is a declared option of its command', (t) => {
  for (const [name, flags] of Object.entries(FILE_FLAGS)) {
    const declared = commands.get(name);
    t.truthy(declared, `cconv ${name} exists`);
    for (const flag of Object.keys(flags)) t.true(declared!.names.has(flag), `--${flag} is an option of cconv ${name}`);
  }
});
