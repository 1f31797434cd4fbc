// Files the kernel sends (the compiled YAML, an artifact's bytes) saved through the browser: in every host,
// no file server assumed. Their object URLs live as long as the panel.
import { element } from './details';

export class Files {
  private urls: string[] = [];

  /** An object URL for the bytes, revoked when the panel goes. */
  url(blob: Blob): string {
    const url = URL.createObjectURL(blob);
    this.urls.push(url);
    return url;
  }

  /** Save base64 bytes as `name` (a download, started from a link inside `where`). */
  save(where: HTMLElement, name: string, mime: string, base64: string): void {
    const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
    const link = element('a', 'kfp-artifact-download');
    link.href = this.url(new Blob([bytes], { type: mime || 'application/octet-stream' }));
    link.download = name;
    where.appendChild(link);
    link.click();
    link.remove();
  }

  dispose(): void {
    this.urls.forEach(url => URL.revokeObjectURL(url));
  }
}
