// Registers the pipeline panel with the Jupyter widget manager.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IJupyterWidgetRegistry } from '@jupyter-widgets/base';

import { MODULE_NAME, MODULE_VERSION, PipelinePanelModel, PipelinePanelView } from './widget';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'kfp-notebook:panel',
  description: 'The kfp-notebook pipeline panel',
  requires: [IJupyterWidgetRegistry],
  autoStart: true,
  activate: (_app: JupyterFrontEnd, registry: IJupyterWidgetRegistry) => {
    registry.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: { PipelinePanelModel, PipelinePanelView }
    });
  }
};

export default plugin;
