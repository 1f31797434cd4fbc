// The kernel's SVG of the DAG made interactive in place: parsed, nodes focusable with an icon slot, loops with a
// progress slot (the DOT reserves its line: view/dag.py LOOP_PROGRESS_SPACE).
import { BADGES_CLASS, badgeLine, DOT_CLASS } from './dot';
import { Look } from './messages';
import { loopText } from './sections';
import { NODE_STATES } from './states';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The SVG element of the kernel's drawing, in this document; null when the text is not an SVG. Graphviz writes
 *  no scripts or event handlers: any found (a hand-edited saved notebook's state) are dropped before it shows. */
export function parseSvg(source: string): SVGSVGElement | null {
  const parsed = new DOMParser().parseFromString(source, 'image/svg+xml').documentElement;
  if (!(parsed instanceof SVGSVGElement)) {
    return null;
  }
  parsed.querySelectorAll('script, foreignObject').forEach(node => node.remove());
  for (const node of [parsed, ...parsed.querySelectorAll('*')]) {
    [...node.attributes].filter(a => /^on/i.test(a.name) || /^\s*javascript:/i.test(a.value)).forEach(a => node.removeAttribute(a.name));
  }
  return document.importNode(parsed, true) as SVGSVGElement;
}

/** Once per drawing: titles go (the panel has its own), nodes become buttons, icon and progress slots appear. */
export function prepareDag(svg: SVGSVGElement): void {
  svg.querySelectorAll('title').forEach(title => title.remove());
  svg.querySelectorAll('g.node').forEach(node => {
    node.setAttribute('tabindex', '0');
    node.setAttribute('role', 'button');
    node.setAttribute('aria-label', (node.querySelector('text')?.textContent ?? node.id).trim());
    badgeLine(node)?.classList.add(BADGES_CLASS);
    const box = shapeBox(node.querySelector('path, polygon'));
    if (box) {
      node.appendChild(svgText('kfp-icon', box.x + 9, box.y + 12, ''));
    }
  });
  svg.querySelectorAll('g.cluster').forEach(cluster => {
    const label = cluster.querySelector('text');
    if (label && cluster.classList.contains(DOT_CLASS.loop)) {
      const text = svgText('kfp-loop-progress', Number(label.getAttribute('x')), Number(label.getAttribute('y')) + 13, '');
      text.setAttribute('text-anchor', 'middle');
      cluster.appendChild(text);
    }
  });
}

/** States, icons and loop progress in place: attributes and text change, the layout does not. */
export function paintStates(
  svg: SVGSVGElement,
  states: Record<string, string>,
  looks: Record<string, Look>,
  loops: Record<string, Record<string, number>>
): void {
  svg.querySelectorAll('g.node').forEach(node => {
    const state = states[node.id] ?? NODE_STATES[0];
    node.setAttribute('data-state', state);
    const icon = node.querySelector('.kfp-icon');
    if (icon) {
      icon.textContent = looks[state]?.icon ?? '';
    }
  });
  svg.querySelectorAll('g.cluster').forEach(cluster => {
    const state = states[cluster.id];
    state ? cluster.setAttribute('data-state', state) : cluster.removeAttribute('data-state');
    const progress = cluster.querySelector(':scope > .kfp-loop-progress');
    const counts = loops[cluster.id];
    if (progress) {
      progress.textContent = counts ? loopText(counts, looks) : '';
    }
  });
}

/** A shape's box from its own coordinates (getBBox needs layout, which a notebook cell out of view lacks). */
export function shapeBox(shape: Element | null): { x: number; y: number; width: number; height: number } | null {
  const numbers = (shape?.getAttribute('points') ?? shape?.getAttribute('d') ?? '').match(/-?\d+(\.\d+)?/g)?.map(Number);
  if (!numbers || numbers.length < 4) {
    return null;
  }
  const xs = numbers.filter((_, i) => i % 2 === 0);
  const ys = numbers.filter((_, i) => i % 2 === 1);
  const [x, y] = [Math.min(...xs), Math.min(...ys)];
  return { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y };
}

function svgText(className: string, x: number, y: number, text: string): SVGTextElement {
  const node = document.createElementNS(SVG_NS, 'text');
  node.setAttribute('class', className);
  node.setAttribute('x', String(x));
  node.setAttribute('y', String(y));
  node.textContent = text;
  return node;
}
