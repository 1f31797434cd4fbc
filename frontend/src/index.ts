// The panel as one anywidget ES module: every host's widget manager (JupyterLab, Notebook 7, VS Code, Colab,
// marimo) loads this file from the widget's `_esm` and calls render with the model and an element.
import { Model } from './model';
import { PanelView } from './widget';

export default {
  render({ model, el }: { model: Model; el: HTMLElement }): () => void {
    const view = new PanelView(model, el);
    return () => view.remove();
  }
};
