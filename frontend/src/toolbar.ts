// The panel's toolbar: the kernel's actions (acknowledged by the kernel), then zoom, fit, 1:1 and pop-out.
import { element } from './details';
import { ButtonAction } from './messages';

/** The kernel's actions: action, label, what it does. Run says it is running while its run goes on. */
const BUTTONS: [ButtonAction, string, string][] = [
  ['compile', 'Compile', 'Write PIPELINE.yaml next to the notebook'],
  ['run', 'Run locally', 'Run the pipeline on this machine'],
  ['submit', 'Submit to Kubeflow', ''],
  ['stop', 'Stop', 'Stop the run'],
  ['retry', 'Retry', 'Run again only what did not succeed in this run']
];

/** A view action: name (its class), label, tooltip, what it does. */
export type ViewAction = [string, string, string, () => unknown];

export function toolbar(
  act: (action: ButtonAction) => void,
  views: ViewAction[],
  zoomLabel: HTMLElement
): { bar: HTMLElement; buttons: Record<string, HTMLButtonElement> } {
  const bar = element('div', 'kfp-toolbar');
  const buttons: Record<string, HTMLButtonElement> = {};
  for (const [action, label, title] of BUTTONS) {
    buttons[action] = element('button', `kfp-button kfp-${action}`, label);
    buttons[action].title = title;
    buttons[action].addEventListener('click', () => act(action));
    bar.appendChild(buttons[action]);
  }
  bar.appendChild(element('span', 'kfp-spacer'));
  for (const [name, label, title, action] of views) {
    buttons[name] = element('button', `kfp-button kfp-minimal kfp-${name}`, label);
    buttons[name].title = title;
    buttons[name].setAttribute('aria-label', title);
    buttons[name].addEventListener('click', action);
    bar.appendChild(buttons[name]);
    if (name === 'zoom-in') {
      bar.appendChild(zoomLabel);
    }
  }
  return { bar, buttons };
}
