/**
 * Where a visible signature goes on a page as the reader sees it. A page may be shown rotated (/Rotate 90,
 * 180 or 270, clockwise, on the page or inherited from the page tree) and its visible area is the crop box
 * (else the media box, also inheritable). The caller's rectangle is in the displayed page: x from its left
 * edge, y up from its bottom edge, in points — for an unrotated page with its box at the origin these are
 * the page's own coordinates. The widget's /Rect is that rectangle carried back into the page's user
 * space, and the appearance gets a /Matrix that turns it against the page's rotation, so it shows upright
 * (ISO 32000-1 §12.5.5: the viewer fits the appearance's transformed BBox to /Rect).
 */
import type { PdfDocument, Ref } from '../pdf/document.js';

export type Rotation = 0 | 90 | 180 | 270;

export interface PagePlacement {
  rotation: Rotation;
  /** the visible box in user space: llx, lly, urx, ury */
  box: [number, number, number, number];
}

function boxOf(doc: PdfDocument, page: Ref): [number, number, number, number] {
  for (const key of ['CropBox', 'MediaBox'] as const) {
    const b = doc.pageAttribute(page, key);
    if (b?.kind !== 'array' || b.items.length !== 4 || b.items.some((i) => i.kind !== 'num')) continue;
    const [x1, y1, x2, y2] = b.items.map((i) => (i as { value: number }).value);
    return [Math.min(x1, x2), Math.min(y1, y2), Math.max(x1, x2), Math.max(y1, y2)];
  }
  return [0, 0, 612, 792]; // US Letter, the default when a page has no box at all
}

export function pagePlacement(doc: PdfDocument, page: Ref): PagePlacement {
  const r = doc.pageAttribute(page, 'Rotate');
  const n = r?.kind === 'num' && Number.isInteger(r.value) && r.value % 90 === 0 ? ((r.value % 360) + 360) % 360 : 0;
  return { rotation: n as Rotation, box: boxOf(doc, page) };
}

/** The displayed rectangle in the page's user space (the widget's /Rect). */
export function toUserSpace(rect: [number, number, number, number], p: PagePlacement): [number, number, number, number] {
  const [llx, lly, urx, ury] = p.box;
  const w = urx - llx;
  const h = ury - lly;
  const map = ([u, v]: [number, number]): [number, number] => {
    switch (p.rotation) {
      case 90:
        return [w - v, u];
      case 180:
        return [w - u, h - v];
      case 270:
        return [v, h - u];
      default:
        return [u, v];
    }
  };
  const corners = [map([rect[0], rect[1]]), map([rect[2], rect[3]])];
  const xs = corners.map((c) => c[0] + llx);
  const ys = corners.map((c) => c[1] + lly);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/** The appearance's /Matrix: a rotation by the page's rotation, counter-clockwise, undoing the viewer's. */
export function appearanceMatrix(rotation: Rotation): [number, number, number, number, number, number] | undefined {
  switch (rotation) {
    case 90:
      return [0, 1, -1, 0, 0, 0];
    case 180:
      return [-1, 0, 0, -1, 0, 0];
    case 270:
      return [0, -1, 1, 0, 0, 0];
    default:
      return undefined;
  }
}
