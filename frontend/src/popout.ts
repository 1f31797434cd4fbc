// "Pop out": the panel fills the window as a fixed overlay, which every host allows; Escape or the same button
// brings it back. Opening a JupyterLab main-area tab instead needs JupyterLab's application object, which a
// widget's module never gets (that was the one thing the old lab extension did).

export class PopOut {
  private readonly panel: HTMLElement;
  private placeholder: Comment | null = null;
  private readonly onKey = (event: KeyboardEvent) => event.key === 'Escape' && this.active && this.toggle();
  onChange: (active: boolean) => void = () => undefined;

  constructor(panel: HTMLElement) {
    this.panel = panel;
    document.addEventListener('keydown', this.onKey);
  }

  get active(): boolean {
    return this.panel.classList.contains('kfp-popped');
  }

  toggle(): void {
    this.active ? this.restore() : this.fill();
    this.onChange(this.active);
  }

  /** Over the whole page: moved to the page's body when it is in the page itself (a notebook's scrolled or
   *  contained ancestors would clip a fixed element), left in place inside a shadow root (marimo) or a frame. */
  private fill(): void {
    if (this.panel.getRootNode() === document && this.panel.parentNode) {
      this.placeholder = document.createComment('kfp panel popped out');
      this.panel.parentNode.insertBefore(this.placeholder, this.panel);
      document.body.appendChild(this.panel);
    }
    this.panel.classList.add('kfp-popped');
  }

  private restore(): void {
    this.panel.classList.remove('kfp-popped');
    this.placeholder?.parentNode?.replaceChild(this.panel, this.placeholder);
    this.placeholder = null;
  }

  dispose(): void {
    if (this.active) {
      this.restore();
    }
    document.removeEventListener('keydown', this.onKey);
  }
}
