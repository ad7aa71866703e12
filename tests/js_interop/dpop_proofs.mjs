// Proofs made by panva's `dpop` package (npm), for tests/test_dpop.py: no code of ours signs
// them. Reads {"algorithms": [...], "requests": [[method, url, accessToken|null, nonce|null]]}
// on stdin; prints {alg: {"proofs": [...]}} with one proof per request, one key per algorithm.
import { generateKeyPair, generateProof } from 'dpop'

let input = ''
for await (const chunk of process.stdin) input += chunk
const { algorithms, requests } = JSON.parse(input)
const output = {}
for (const alg of algorithms) {
  const keypair = await generateKeyPair(alg)
  const proofs = []
  for (const [method, url, accessToken, nonce] of requests) {
    proofs.push(await generateProof(keypair, url, method, nonce ?? undefined,
      accessToken ?? undefined))
  }
  output[alg] = { proofs }
}
process.stdout.write(JSON.stringify(output))
