// Registers the pipeline panel with the Jupyter widget manager.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IJupyterWidgetRegistry } from '@jupyter-widgets/base';

import { setApplication } from './popout';
import { MODULE_NAME, MODULE_VERSION, PipelinePanelModel, PipelinePanelView } from './widget';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'kfp-notebook:panel',
  description: 'The kfp-notebook pipeline panel',
  requires: [IJupyterWidgetRegistry],
  autoStart: true,
  activate: (app: JupyterFrontEnd, registry: IJupyterWidgetRegistry) => {
    setApplication(app);
    registry.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: { PipelinePanelModel, PipelinePanelView }
    });
  }
};

export default plugin;
