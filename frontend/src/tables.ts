// The panel's Runs and Compare views: the kernel draws them (view/history.py, view/compare.py) when asked.
import { element } from './details';
import { TableView } from './messages';
import { listen, Model } from './model';

const VIEWS: [string, string][] = [
  ['pipeline', 'Pipeline'],
  ['runs', 'Runs'],
  ['compare', 'Compare']
];

export class Tables {
  readonly bar = element('div', 'kfp-views');
  readonly node = element('div', 'kfp-table-view');
  pipelineNode: HTMLElement | null = null;
  private readonly model: Model;
  private shown = 'pipeline';

  constructor(model: Model, ask: (view: string) => void) {
    this.model = model;
    this.bar.setAttribute('role', 'tablist');
    for (const [view, label] of VIEWS) {
      const button = element('button', 'kfp-view-tab', label);
      button.dataset.view = view;
      button.setAttribute('role', 'tab');
      button.addEventListener('click', () => {
        this.show(view);
        if (view !== 'pipeline') {
          this.node.textContent = 'reading the runs…';
          ask(view); // read anew each time: runs of other kernels and CLI runs too
        }
      });
      this.bar.appendChild(button);
    }
    listen(model, ['runs_table', 'comparison'], () => this.render());
    this.show('pipeline');
  }

  private show(view: string): void {
    this.shown = view;
    this.bar.querySelectorAll<HTMLElement>('.kfp-view-tab').forEach(tab => {
      tab.classList.toggle('kfp-view-active', tab.dataset.view === view);
      tab.setAttribute('aria-selected', String(tab.dataset.view === view));
    });
    if (this.pipelineNode) {
      this.pipelineNode.hidden = view !== 'pipeline';
    }
    this.node.hidden = view === 'pipeline';
    this.render();
  }

  private render(): void {
    if (this.shown === 'pipeline') {
      return;
    }
    const table: TableView = this.model.get(this.shown === 'runs' ? 'runs_table' : 'comparison');
    if (table.html) {
      this.node.innerHTML = table.html; // the kernel's own HTML, every value escaped there
    } else if (table.text) {
      this.node.textContent = table.text;
    }
  }
}
