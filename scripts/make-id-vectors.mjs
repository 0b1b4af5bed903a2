// Writes test-vectors/operation-ids.json. The canonical texts below are written by hand from RFC 8785
// (not produced by the code under test); the ids are SHA-256 of those texts by Node's own crypto.
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'

const cases = [
  ['empty args', 'noop', '{}', '{"args":{},"op":"noop","v":1}'],
  ['key order is by UTF-16 code units', 'sort',
    '{"peach":1,"péché":2,"pêche":3,"sin":4,"\\u20ac":5,"\\r":6,"1":7,"\\ud83d\\ude00":8,"\\u0080":9,"\\u00f6":10}',
    '{"args":{"\\r":6,"1":7,"peach":1,"péché":2,"pêche":3,"sin":4,"\u0080":9,"ö":10,"€":5,"😀":8},"op":"sort","v":1}'],
  ['numbers: 1.0, 1e21, -0, 1e-7, 0.1', 'numbers', '[1.0, 1e21, -0, 1e-7, 0.1, 333333333.33333329, 9007199254740993]',
    '{"args":[1,1e+21,0,1e-7,0.1,333333333.3333333,9007199254740992],"op":"numbers","v":1}'],
  ['unicode and escapes in strings', 'text', '{"s":"\\u00e9\\t\\"q\\"\\\\ \\u001f \\u2028 😀"}',
    '{"args":{"s":"é\\t\\"q\\"\\\\ \\u001f \u2028 😀"},"op":"text","v":1}'],
  ['nested refs and content hashes', 'threshold',
    '{"input":{"ref":"' + 'a'.repeat(64) + '"},"mask":{"sha256":"' + '0123456789abcdef'.repeat(4) + '"},"params":{"upper":200,"lower":20,"inside":[1,[true,null]]}}',
    '{"args":{"input":{"ref":"' + 'a'.repeat(64) + '"},"mask":{"sha256":"' + '0123456789abcdef'.repeat(4) + '"},"params":{"inside":[1,[true,null]],"lower":20,"upper":200}},"op":"threshold","v":1}'],
  ['op name with unicode', 'gaußfilter', '{"σ":1.5}', '{"args":{"σ":1.5},"op":"gaußfilter","v":1}'],
  ['null args', 'constant', 'null', '{"args":null,"op":"constant","v":1}'],
]

const vectors = cases.map(([name, op, argsJson, canonical]) => ({
  name, op, argsJson, canonical,
  id: createHash('sha256').update(canonical, 'utf8').digest('hex'),
}))
writeFileSync(new URL('../test-vectors/operation-ids.json', import.meta.url), JSON.stringify(vectors, null, 2) + '\n')
console.log(`${vectors.length} vectors written`)
