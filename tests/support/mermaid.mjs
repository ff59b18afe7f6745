// Parses Mermaid diagrams with the real Mermaid library, headless (jsdom stands in for
// the browser). Reads a JSON array of {name, text} on standard input; prints one JSON
// line {name, error} per diagram that does not parse. Run from the folder where
// scripts/test installed mermaid and jsdom.
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

let input = '';
for await (const chunk of process.stdin) input += chunk;
for (const { name, text } of JSON.parse(input)) {
  try {
    await mermaid.parse(text);
  } catch (error) {
    console.log(JSON.stringify({ name, error: String(error.message ?? error) }));
  }
}
