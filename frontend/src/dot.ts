// The classes the DOT (kfp_notebook/view/dag.py) gives the DAG's SVG elements: what this front end and
// style/index.css select, never a label's wording or Graphviz's font sizes. tests/test_unit_dag.py checks
// each against dag.py's DOT_CLASSES.
export const DOT_CLASS = {
  /** a ParallelFor cluster: its label has a blank second line for the iteration counts */
  loop: 'kfp-loop',
  /** a task whose label ends with a line of badge chips */
  badged: 'kfp-badged'
} as const;

/** Set here, on the badge chips' text (the last line of a badged task's label), for the CSS. */
export const BADGES_CLASS = 'kfp-badges';

/** The line of badge chips of a badged task's node, or null. */
export function badgeLine(node: Element): Element | null {
  if (!node.classList.contains(DOT_CLASS.badged)) {
    return null;
  }
  const texts = node.querySelectorAll('text');
  return texts.length > 1 ? texts[texts.length - 1] : null;
}
