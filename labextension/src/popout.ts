// The panel opened again as a JupyterLab main-area tab (a second view of the same model, full width).
import { JupyterFrontEnd } from '@jupyterlab/application';
import { DOMWidgetView } from '@jupyter-widgets/base';
import { Widget } from '@lumino/widgets';

let application: JupyterFrontEnd | null = null;

export function setApplication(app: JupyterFrontEnd): void {
  application = app;
}

/** Whether this front end has a main area to open tabs in (JupyterLab: yes; Notebook 7 notebook page: no). */
export function canPopOut(): boolean {
  return application !== null && application.name === 'JupyterLab';
}

export async function popOut(view: DOMWidgetView): Promise<void> {
  if (application === null || !canPopOut()) {
    return;
  }
  const child = await view.model.widget_manager.create_view(view.model, {});
  const tab = new Widget();
  tab.addClass('kfp-popout-tab');
  tab.id = `kfp-popout-${view.model.model_id}-${Date.now()}`;
  tab.title.label = `Pipeline ${view.model.get('title')}`;
  tab.title.closable = true;
  tab.node.appendChild(child.el);
  tab.disposed.connect(() => child.remove());
  application.shell.add(tab, 'main', { mode: 'split-right' });
  application.shell.activateById(tab.id);
  child.el.classList.add('kfp-panel-popout');
}
