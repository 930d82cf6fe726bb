// Validates Ponte's DCAT-AP_IT catalogue (twin/opendata's integration test
// runs it; see README.md next to the shapes in ../testdata/shacl/).
//
//   node validate.mjs shacl SHAPES.ttl DATA.ttl
//     SHACL validation (rdf-validate-shacl): prints the report as JSON and
//     exits 1 when the data do not conform.
//   node validate.mjs same CATALOG.jsonld CATALOG.ttl
//     Expands the JSON-LD with a JSON-LD processor (jsonld) and parses the
//     Turtle (n3), canonicalizes both (RDFC-1.0) and compares them as
//     N-Quads: prints the triple counts and the differences as JSON and
//     exits 1 when the two graphs differ.
// Exit 2: bad usage or unreadable input.
import { readFile } from 'node:fs/promises'
import rdf from '@zazuko/env-node'
import SHACLValidator from 'rdf-validate-shacl'
import jsonld from 'jsonld'
import { Parser, Writer } from 'n3'

async function shacl (shapesPath, dataPath) {
  const shapes = await rdf.dataset().import(rdf.fromFile(shapesPath))
  const data = await rdf.dataset().import(rdf.fromFile(dataPath))
  const validator = new SHACLValidator(shapes, { factory: rdf })
  const report = await validator.validate(data)
  const results = report.results.map(r => ({
    focusNode: r.focusNode?.value,
    path: r.path?.value,
    severity: r.severity?.value,
    sourceShape: r.sourceShape?.value,
    sourceConstraintComponent: r.sourceConstraintComponent?.value,
    value: r.value?.value,
    message: r.message.map(m => m.value)
  }))
  console.log(JSON.stringify({ conforms: report.conforms, triples: data.size, results }, null, 2))
  return report.conforms
}

function toNQuads (quads) {
  return new Promise((resolve, reject) => {
    const w = new Writer({ format: 'N-Quads' })
    w.addQuads(quads)
    w.end((err, out) => err ? reject(err) : resolve(out))
  })
}

async function canonical (nquads) {
  const canon = await jsonld.canonize(nquads, { algorithm: 'RDFC-1.0', inputFormat: 'application/n-quads', format: 'application/n-quads', safe: true })
  return canon.split('\n').filter(l => l !== '').sort()
}

async function same (jsonldPath, turtlePath) {
  const doc = JSON.parse(await readFile(jsonldPath, 'utf8'))
  // safe: a JSON-LD construct that would drop or change data is an error.
  const fromJSONLD = await jsonld.toRDF(doc, { format: 'application/n-quads', safe: true })
  const ttl = new Parser({ format: 'text/turtle' }).parse(await readFile(turtlePath, 'utf8'))
  const a = await canonical(fromJSONLD)
  const b = await canonical(await toNQuads(ttl))
  const sa = new Set(a)
  const sb = new Set(b)
  const onlyJSONLD = a.filter(q => !sb.has(q))
  const onlyTurtle = b.filter(q => !sa.has(q))
  const same = onlyJSONLD.length === 0 && onlyTurtle.length === 0 && a.length === b.length
  console.log(JSON.stringify({ same, jsonld: a.length, turtle: b.length, onlyJSONLD, onlyTurtle }, null, 2))
  return same
}

const [mode, x, y] = process.argv.slice(2)
const run = { shacl, same }[mode]
if (!run || !x || !y) {
  console.error('usage: node validate.mjs shacl SHAPES.ttl DATA.ttl | same CATALOG.jsonld CATALOG.ttl')
  process.exit(2)
}
try {
  process.exit(await run(x, y) ? 0 : 1)
} catch (err) {
  console.error(String(err?.stack ?? err))
  process.exit(2)
}
