// Zoom (buttons, Ctrl/Cmd + wheel), pan (drag), fit and 1:1 for the DAG: the SVG is resized, never re-laid out.

/** The smallest scale a DAG first shows at: Graphviz's 10 pt task names stay about 8 px tall, readable. */
export const READABLE_SCALE = 0.8;
export const MIN_SCALE = 0.05;
export const MAX_SCALE = 4;
const STEP = 1.25;

export class Viewport {
  readonly node: HTMLDivElement;
  private svg: SVGSVGElement | null = null;
  private natural = { width: 1, height: 1 };
  private scaleValue = 1;
  private drag: { x: number; y: number; left: number; top: number } | null = null;
  private userZoomed = false;
  onChange: (scale: number) => void = () => undefined;

  constructor(node: HTMLDivElement) {
    this.node = node;
    node.addEventListener('wheel', event => this.onWheel(event), { passive: false });
    node.addEventListener('pointerdown', event => this.onPointerDown(event));
    node.addEventListener('pointermove', event => this.onPointerMove(event));
    node.addEventListener('pointerup', () => this.endDrag());
    node.addEventListener('pointerleave', () => this.endDrag());
    // drawn before the cell was laid out (a notebook out of view): size it once the viewport has a width
    new ResizeObserver(() => !this.userZoomed && this.svg !== null && this.autoScale()).observe(node);
  }

  get scale(): number {
    return this.scaleValue;
  }

  /** A newly drawn SVG: remember its natural size (points from its viewBox), then fit it or show it 1:1. */
  show(svg: SVGSVGElement): void {
    this.svg = svg;
    const box = svg.viewBox.baseVal;
    this.natural = { width: Math.max(box?.width || 1, 1), height: Math.max(box?.height || 1, 1) };
    svg.removeAttribute('width');
    svg.removeAttribute('height');
    this.userZoomed = false;
    this.autoScale();
  }

  /** On first show: the whole DAG when it fits at a readable scale; else the width, never below READABLE_SCALE
   *  (a tall DAG scrolls down, a very wide one sideways too), as the KFP UI opens a big pipeline. */
  private autoScale(): void {
    const whole = this.fitting();
    this.setScale(whole >= READABLE_SCALE ? whole : Math.max(READABLE_SCALE, Math.min(1, this.widthFit())));
  }

  /** The whole DAG in view, both its width and its height (never larger than 1:1 for a small DAG). */
  fit(): number {
    this.userZoomed = true;
    return this.setScale(this.fitting());
  }

  /** The viewport changed size (filled the window, or back): fitted again unless the user chose a scale. */
  refit(): void {
    if (this.svg !== null) {
      this.userZoomed ? this.setScale(this.scaleValue) : this.autoScale();
    }
  }

  private fitting(): number {
    return Math.min(1, this.widthFit(), this.availableHeight() / this.natural.height);
  }

  private widthFit(): number {
    return this.available() / this.natural.width;
  }

  zoom(factor: number, around?: { x: number; y: number }): number {
    this.userZoomed = true;
    const before = this.scaleValue;
    const point = around ?? { x: this.node.clientWidth / 2, y: this.node.clientHeight / 2 };
    const contentX = (this.node.scrollLeft + point.x) / before;
    const contentY = (this.node.scrollTop + point.y) / before;
    const scale = this.setScale(before * factor);
    this.node.scrollLeft = contentX * scale - point.x;
    this.node.scrollTop = contentY * scale - point.y;
    return scale;
  }

  zoomIn(): number {
    return this.zoom(STEP);
  }

  zoomOut(): number {
    return this.zoom(1 / STEP);
  }

  /** The scale the user chose (1:1 is setScale(1)); automatic sizing stops from then on. */
  chooseScale(scale: number): number {
    this.userZoomed = true;
    return this.setScale(scale);
  }

  setScale(scale: number): number {
    this.scaleValue = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
    if (this.svg !== null) {
      this.svg.style.width = `${this.natural.width * this.scaleValue}px`;
      this.svg.style.height = `${this.natural.height * this.scaleValue}px`;
    }
    this.onChange(this.scaleValue);
    return this.scaleValue;
  }

  /** Scroll so that an element (a node) is in view. */
  reveal(element: Element): void {
    const box = element.getBoundingClientRect();
    const frame = this.node.getBoundingClientRect();
    if (box.left < frame.left || box.right > frame.right) {
      this.node.scrollLeft += box.left - frame.left - frame.width / 2 + box.width / 2;
    }
    if (box.top < frame.top || box.bottom > frame.bottom) {
      this.node.scrollTop += box.top - frame.top - frame.height / 2 + box.height / 2;
    }
  }

  private available(): number {
    return this.node.clientWidth > 0 ? Math.max(this.node.clientWidth - 8, 100) : Infinity;
  }

  /** The height the viewport may grow to (its CSS max-height), not the height it has now. */
  private availableHeight(): number {
    const limit = parseFloat(getComputedStyle(this.node).maxHeight);
    const height = Number.isFinite(limit) && limit > 0 ? limit : window.innerHeight * 0.7;
    return Math.max(height - 8, 60);
  }

  private onWheel(event: WheelEvent): void {
    if (!(event.ctrlKey || event.metaKey)) {
      return;
    }
    event.preventDefault();
    const frame = this.node.getBoundingClientRect();
    this.zoom(event.deltaY < 0 ? STEP : 1 / STEP, { x: event.clientX - frame.left, y: event.clientY - frame.top });
  }

  private onPointerDown(event: PointerEvent): void {
    if (event.button !== 0 || (event.target as Element).closest('g.node, g.cluster') !== null) {
      return;
    }
    this.drag = { x: event.clientX, y: event.clientY, left: this.node.scrollLeft, top: this.node.scrollTop };
    this.node.classList.add('kfp-panning');
  }

  private onPointerMove(event: PointerEvent): void {
    if (this.drag === null) {
      return;
    }
    this.node.scrollLeft = this.drag.left - (event.clientX - this.drag.x);
    this.node.scrollTop = this.drag.top - (event.clientY - this.drag.y);
  }

  private endDrag(): void {
    this.drag = null;
    this.node.classList.remove('kfp-panning');
  }
}
