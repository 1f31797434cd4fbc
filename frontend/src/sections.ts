// The panel's parts that are plain functions of synced values: form rows, the run line, the legend, metrics.
import { element } from './details';
import { Look, Metrics, Parameter, RunInfo } from './messages';

const SVG_NS = 'http://www.w3.org/2000/svg';

const TYPE_NAMES: Record<string, string> = {
  NUMBER_INTEGER: 'int',
  NUMBER_DOUBLE: 'float',
  STRING: 'str',
  BOOLEAN: 'bool',
  LIST: 'list, JSON',
  STRUCT: 'dict, JSON'
};

/** Elapsed seconds as the progress line shows them: '8.4 s', '2 min 05 s'. */
export function elapsedText(seconds: number): string {
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(Math.floor(seconds % 60)).padStart(2, '0')} s`;
}

/** A loop's iterations by state: '✓13 ⟳2 ✗1 / 20'. */
export function loopText(counts: Record<string, number>, looks: Record<string, Look>): string {
  const order = Object.keys(looks); // the legend's order: waiting, running, succeeded, …, failed
  const parts = Object.entries(counts)
    .filter(([state, count]) => state !== 'total' && count > 0)
    .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
    .map(([state, count]) => `${looks[state]?.icon ?? state}${count}`);
  return `${parts.join(' ')} / ${counts.total ?? '?'}`;
}

/** A field per parameter, by type, with the kernel's error for it. */
export function formRows(parameters: Parameter[], values: Record<string, string>, errors: Record<string, string>): HTMLElement[] {
  return parameters.map(parameter => {
    const row = element('label', 'kfp-field');
    row.appendChild(element('span', 'kfp-field-name', `${parameter.name} (${TYPE_NAMES[parameter.type] ?? parameter.type})`));
    const input = element('input', 'kfp-field-input');
    input.name = parameter.name;
    input.value = values[parameter.name] ?? parameter.default;
    input.placeholder = parameter.required ? 'required' : parameter.default;
    row.appendChild(input);
    if (errors[parameter.name]) {
      row.classList.add('kfp-invalid');
      input.setAttribute('aria-invalid', 'true');
      row.appendChild(element('span', 'kfp-field-error', errors[parameter.name]));
    }
    return row;
  });
}

/** Which run the panel shows, with the parameters it used (those unlike the form's defaults marked). */
export function runInfoNodes(info: RunInfo): HTMLElement[] {
  if (!info.run_id) {
    return [];
  }
  const when = info.started ? new Date(info.started * 1000).toLocaleString() : '';
  const head = [`run ${info.run_id}`, info.where, when].filter(Boolean).join(' · ');
  const nodes = [element('span', 'kfp-run-id', info.reloaded ? `last run, read from disk: ${head}` : head)];
  const differs = new Set(info.differs ?? []);
  for (const [name, value] of Object.entries(info.parameters ?? {})) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    const chip = element('span', `kfp-run-param${differs.has(name) ? ' kfp-differs' : ''}`, `${name}=${text}`);
    chip.title = differs.has(name) ? `this run used ${text}; the form's default is ${info.defaults?.[name] ?? '?'}` : 'the default';
    nodes.push(chip);
  }
  return nodes;
}

/** A state of the legend: its swatch (fill, outline, icon) and label, its meaning as a tooltip. */
export function legendChip(look: Look): HTMLElement {
  const chip = element('span', 'kfp-legend-item');
  chip.dataset.state = look.state;
  chip.title = look.meaning;
  const swatch = document.createElementNS(SVG_NS, 'svg');
  swatch.setAttribute('class', 'kfp-swatch');
  swatch.setAttribute('width', '22');
  swatch.setAttribute('height', '14');
  swatch.innerHTML = `<rect x="1" y="1" width="20" height="12" rx="3"/><text x="11" y="11" text-anchor="middle">${look.icon}</text>`;
  chip.append(swatch, document.createTextNode(look.label));
  return chip;
}

/** The run's metrics: a row per task, a column per metric (none: null). */
export function metricsTable(metrics: Metrics): HTMLTableElement | null {
  if (!metrics.columns || !metrics.rows || metrics.rows.length === 0) {
    return null;
  }
  const table = element('table', 'kfp-metrics-table');
  const head = table.createTHead().insertRow();
  head.appendChild(element('th', ''));
  metrics.columns.forEach(column => head.appendChild(element('th', '', column)));
  const body = table.createTBody();
  for (const [name, values] of metrics.rows) {
    const row = body.insertRow();
    row.appendChild(element('th', '', name));
    values.forEach(value => (row.insertCell().textContent = value));
  }
  return table;
}
