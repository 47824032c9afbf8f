// SVG overlay on an evidence frame: boxes with Chinese labels; move, resize and draw boxes.
// Coordinates are image pixels (viewBox = natural image size), so what is saved is what the
// model and the exporters see, whatever size the image is shown at.
import { s } from "./dom.js";

const MIN_SIZE = 4;

export class BoxEditor {
  /**
   * @param {SVGSVGElement} svg overlay sized like the image
   * @param {{onMove(i, xyxy), onDraw(xyxy), label(box), drawing(): boolean}} hooks
   */
  constructor(svg, hooks) {
    this.svg = svg;
    this.hooks = hooks;
    this.drag = null;
    svg.addEventListener("pointerdown", (e) => this.down(e));
    svg.addEventListener("pointermove", (e) => this.move(e));
    svg.addEventListener("pointerup", (e) => this.up(e));
  }

  show(width, height, boxes, region) {
    this.width = width;
    this.height = height;
    this.boxes = boxes;
    this.region = region;
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.svg.setAttribute("preserveAspectRatio", "none");
    this.render();
  }

  /** Where a box is shown: its own box, else the evidence region (dashed). */
  shape(box) {
    return box.xyxy || this.region;
  }

  /** Each object is drawn in its own box; the stacked region only where some object has none. */
  render() {
    this.svg.replaceChildren();
    const stroke = Math.max(2, this.width / 400);
    const font = Math.max(14, this.width / 45);
    if (this.region && !this.boxes.every((box) => box.xyxy)) {
      const [x1, y1, x2, y2] = this.region;
      this.svg.append(s("rect", { class: "region", x: x1, y: y1, width: x2 - x1, height: y2 - y1,
        "stroke-width": stroke }));
    }
    this.boxes.forEach((box, index) => {
      const xyxy = this.shape(box);
      if (!xyxy) return;
      const [x1, y1, x2, y2] = xyxy;
      const cls = `box${box.xyxy ? "" : " undrawn"}${box.added ? " added" : ""}`;
      const g = s("g", { class: cls, "data-index": index });
      g.append(s("rect", { class: "frame", x: x1, y: y1, width: x2 - x1, height: y2 - y1,
        "stroke-width": stroke, "data-part": "body" }));
      const text = this.hooks.label(box, index);
      const labelY = y1 > font * 1.4 ? y1 - font * 1.3 : y1;
      const bg = s("rect", { class: "label-bg", x: x1, y: labelY, height: font * 1.3 });
      const label = s("text", { x: x1 + font * 0.3, y: labelY + font, "font-size": font }, text);
      g.append(bg, label);
      const r = Math.max(5, this.width / 150);
      for (const [cx, cy, part] of [[x1, y1, "tl"], [x2, y2, "br"]]) {
        g.append(s("rect", { class: "handle", x: cx - r, y: cy - r, width: 2 * r, height: 2 * r,
          "data-part": part }));
      }
      this.svg.append(g);
      bg.setAttribute("width", label.getComputedTextLength() + font * 0.6);
    });
  }

  point(event) {
    const m = this.svg.getScreenCTM().inverse();
    const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(m);
    return [Math.min(Math.max(p.x, 0), this.width), Math.min(Math.max(p.y, 0), this.height)];
  }

  down(event) {
    const start = this.point(event);
    const part = event.target.dataset?.part;
    const g = event.target.closest?.("g.box");
    if (this.hooks.drawing()) {
      this.drag = { mode: "draw", start, xyxy: [...start, ...start] };
      this.draft = s("rect", { class: "frame", fill: "none", stroke: "#00b3ff",
        "stroke-width": Math.max(2, this.width / 400) });
      this.svg.append(this.draft);
    } else if (g && part) {
      const index = Number(g.dataset.index);
      this.drag = { mode: part, index, start, orig: [...this.shape(this.boxes[index])], g };
    } else {
      return;
    }
    this.svg.setPointerCapture(event.pointerId);
    event.preventDefault();
  }

  move(event) {
    if (!this.drag) return;
    const [x, y] = this.point(event);
    const d = this.drag;
    const [dx, dy] = [x - d.start[0], y - d.start[1]];
    if (d.mode === "draw") d.xyxy = [d.start[0], d.start[1], x, y];
    else if (d.mode === "body") d.xyxy = [d.orig[0] + dx, d.orig[1] + dy, d.orig[2] + dx, d.orig[3] + dy];
    else if (d.mode === "tl") d.xyxy = [d.orig[0] + dx, d.orig[1] + dy, d.orig[2], d.orig[3]];
    else d.xyxy = [d.orig[0], d.orig[1], d.orig[2] + dx, d.orig[3] + dy];
    const [x1, y1, x2, y2] = normalise(d.xyxy, this.width, this.height);
    const rect = d.mode === "draw" ? this.draft : d.g.querySelector("rect.frame");
    for (const [k, v] of Object.entries({ x: x1, y: y1, width: x2 - x1, height: y2 - y1 })) {
      rect.setAttribute(k, v);
    }
  }

  up() {
    const d = this.drag;
    this.drag = null;
    if (!d || !d.xyxy) {
      if (this.draft) this.draft.remove();
      return;
    }
    const xyxy = normalise(d.xyxy, this.width, this.height).map((v) => Math.round(v * 10) / 10);
    const big = xyxy[2] - xyxy[0] >= MIN_SIZE && xyxy[3] - xyxy[1] >= MIN_SIZE;
    if (d.mode === "draw") {
      this.draft.remove();
      this.draft = null;
      if (big) this.hooks.onDraw(xyxy);
    } else if (big) {
      this.hooks.onMove(d.index, xyxy);
    } else {
      this.render();
    }
  }
}

function normalise([ax, ay, bx, by], w, h) {
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
  return [clamp(Math.min(ax, bx), w), clamp(Math.min(ay, by), h),
    clamp(Math.max(ax, bx), w), clamp(Math.max(ay, by), h)];
}
