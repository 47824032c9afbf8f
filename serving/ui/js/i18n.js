// Chinese by default; English through the header toggle (remembered in localStorage).

// Status, priority, priority-reason, report and role words and the Chinese text of each error code
// come from the one dictionary that WeCom messages and reports use too (serving/ui/labels.json,
// serving/labels.py).
const LABELS = await fetch(new URL("../labels.json", import.meta.url))
  .then((r) => (r.ok ? r.json() : {}))
  .catch(() => ({}));

const EN = {
  "brand": "Shirong · Street order",
  "nav.review": "Review", "nav.tickets": "Tickets", "nav.cameras": "Cameras",
  "nav.dashboard": "Daily table",
  "logout": "Log out",
  "login.title": "Log in", "login.username": "Username", "login.password": "Password",
  "login.submit": "Log in", "login.failed": "Wrong username or password",
  "filter.status": "Status", "filter.any": "any", "filter.standard": "Standard",
  "filter.camera": "Camera", "filter.squad": "Squad", "filter.minconf": "Min. confidence",
  "filter.since": "From", "filter.until": "To", "filter.apply": "Filter",
  "filter.overdue": "Overdue only",
  "review.accept": "Accept", "review.reject": "Reject", "review.prev": "Previous",
  "review.next": "Next", "review.bulkAccept": "Accept selected",
  "review.bulkReject": "Reject selected", "review.draw": "Draw missed box",
  "review.newClass": "Class for new box", "review.empty": "No incidents match.",
  "review.keys": "Keys: a accept · r reject · n/→ next · p/← previous",
  "review.boxes": "Evidence objects", "review.undrawn": "not drawn (region shown)",
  "review.added": "drawn by reviewer", "review.done": "Saved", "review.reason": "Reason",
  "train.before": "Confirming this gives no training data: {why}",
  "train.after": "#{id} confirmed, but it gives no training data: {why}",
  "train.unboxed_objects": "object(s) {boxes} have no box of their own on the evidence frame (an older record, or not in that frame)",
  "train.fix.unboxed_objects": "; move or draw their boxes first",
  "train.no_evidence_image": "the incident has no evidence image",
  "reason.false_positive": "false positive", "reason.duplicate": "duplicate",
  "reason.not_a_violation": "not a violation", "reason.other": "other",
  "fact.standard": "Standard", "fact.clause": "Clause", "fact.rule": "Rule", "fact.zone": "Zone",
  "fact.dwell": "Dwell", "fact.camera": "Camera", "fact.location": "Location",
  "fact.time": "Time", "fact.confidence": "Confidence", "fact.status": "Status",
  "fact.ticket": "Ticket", "fact.priority": "Priority", "fact.squad": "Squad",
  "fact.due": "Due", "fact.road": "Road", "fact.description": "Description",
  "seconds": "s", "none": "—",
  "tickets.title": "Tickets", "tickets.evidence": "Evidence (originals)",
  "tickets.after": "After-photo", "tickets.upload": "Upload after-photo",
  "tickets.events": "Audit trail", "tickets.note": "Note", "tickets.empty": "No tickets.",
  "action.dispatch": "Dispatch", "action.accept": "Accept", "action.rectify": "Rectified",
  "action.close": "Close", "action.reject": "Send back", "action.cancel": "Cancel",
  "action.reopen": "Reopen", "action.escalate": "Ask for help",
  "action.created": "Created",
  "cameras.title": "Cameras", "cameras.zones": "Zones", "cameras.newZone": "New zone",
  "cameras.finish": "Finish polygon", "cameras.save": "Save zones",
  "cameras.clear": "Clear draft", "cameras.zoneId": "Zone id", "cameras.zoneType": "Type",
  "cameras.online": "online", "cameras.offline": "offline", "cameras.connecting": "connecting",
  "cameras.stopped": "stopped", "cameras.frames": "frames analysed", "cameras.none": "No cameras.",
  "cameras.detect": "sub-stream", "cameras.warning": "Warning",
  "cameras.missing": "The camera API is not available on this server.",
  "cameras.noFrame": "No frame yet.",
  "export.title": "Export corrections",
  "report.title": "Daily table (one table for all)", "report.day": "Day", "report.print": "Printable page",
  "report.trend": "7-day trend by standard",
  "recur.badge": "recurrence", "recur.of": "came back after the ticket of #{id} was closed",
  "recur.seen": "seen {n}×", "fact.sightings": "Sightings", "recur.suppressed": "{n} suppressed",
  "recur.suppressedWhy": "Suppressed {n}×: seen again after it was rejected, not queued for review",
  "recur.lift": "Lift suppression", "recur.lifted": "Suppression lifted",
  "recur.liftedAt": "Suppression lifted {at}: new sightings are queued for review again",
  "recur.ofTicket": "came back after ticket #{id} was closed", "fact.recurrence": "Recurrence of",
  "tickets.earlier": "ticket #{id} ({status}{at})", "fact.stillPresent": "Still present",
  "tickets.observed": "seen {n}× since the ticket was opened · last {at}",
  "tickets.observationEvidence": "Latest still-present evidence", "list.sep": ", ",
  "nav.upload": "Upload", "upload.title": "Upload photos and dashcam videos",
  "upload.files": "Photos or videos", "upload.gps": "GPS track (optional; GPX, NMEA or SRT, for one video)",
  "upload.submit": "Upload", "upload.hint": "Choose files or drop them here. Photos: {photos}; videos: {videos}.",
  "upload.none": "Choose at least one photo or video.",
  "upload.notMedia": "{name}: not a photo or video (photos: {photos}; videos: {videos}). Nothing was uploaded.",
  "upload.notTrack": "{name}: not a GPS track (GPX, NMEA or SRT). Nothing was uploaded.",
  "upload.trackNeedsVideo": "A GPS track goes with exactly one video; {n} chosen. Nothing was uploaded.",
  "upload.results": "Results", "upload.sending": "uploading {pct}%", "upload.photo": "Photo",
  "upload.video": "Video", "upload.created": "new photo", "upload.again": "uploaded before: the same incidents",
  "upload.found": "{n} incident(s) found", "upload.clean": "no disorder found",
  "upload.jobAgain": "uploaded before: its job", "upload.frames": "frames", "upload.incidents": "incidents",
  "upload.track": "with GPS track {name}", "upload.review": "Review",
  "job.queued": "queued", "job.running": "analysing", "job.succeeded": "done", "job.failed": "failed",
  "job.partial": "stopped early",
  "job.coverage": "{analysed} s of {duration} s analysed", "job.expected": "{frames} of about {expected} frames",
  "job.partialWhy": "The video ended at {analysed} s of {duration} s: the file is truncated or corrupt after that point. Incidents found before it are kept.",
  "upload.network": "The upload broke off (the connection was closed)",
  "tickets.system": "system", "review.auto": "updates itself every {s} s",
};

const ZH = {
  "login.failed": "用户名或密码错误",
  "filter.status": "状态", "filter.any": "全部", "filter.standard": "六乱类别",
  "filter.camera": "摄像头", "filter.squad": "中队", "filter.minconf": "最低置信度",
  "filter.since": "起", "filter.until": "止", "filter.apply": "筛选",
  "filter.overdue": "仅超时",
  "review.accept": "确认", "review.reject": "驳回", "review.prev": "上一条",
  "review.next": "下一条", "review.bulkAccept": "批量确认", "review.bulkReject": "批量驳回",
  "review.draw": "补画漏检框", "review.newClass": "新框类别", "review.empty": "没有符合条件的事件。",
  "review.keys": "快捷键：a 确认 · r 驳回 · n/→ 下一条 · p/← 上一条",
  "review.boxes": "证据目标", "review.undrawn": "未单独标框（显示证据区域）",
  "review.added": "审核员补画", "review.done": "已保存", "review.reason": "驳回原因",
  "train.before": "确认后不会生成训练数据：{why}",
  "train.after": "#{id} 已确认，但不会生成训练数据：{why}",
  "train.unboxed_objects": "目标 {boxes} 在证据帧上没有自己的框（旧记录，或不在该帧中）",
  "train.fix.unboxed_objects": "；请先拖动或补画这些框",
  "train.no_evidence_image": "该事件没有证据图像",
  "reason.false_positive": "误报", "reason.duplicate": "重复", "reason.not_a_violation": "不构成违规",
  "reason.other": "其他",
  "fact.standard": "类别", "fact.clause": "条款", "fact.rule": "规则", "fact.zone": "区域",
  "fact.dwell": "停留", "fact.camera": "摄像头", "fact.location": "位置", "fact.time": "时间",
  "fact.confidence": "置信度", "fact.status": "状态", "fact.ticket": "工单",
  "fact.priority": "优先级", "fact.squad": "中队", "fact.due": "期限", "fact.road": "道路",
  "fact.description": "描述",
  "seconds": "秒", "none": "—",
  "tickets.title": "工单", "tickets.evidence": "证据原图", "tickets.after": "整改后照片",
  "tickets.upload": "上传整改照片", "tickets.events": "操作记录", "tickets.note": "备注",
  "tickets.empty": "暂无工单。",
  "action.dispatch": "派发", "action.accept": "受理", "action.rectify": "整改完成",
  "action.close": "结案", "action.reject": "退回", "action.cancel": "撤销",
  "action.reopen": "重新派发", "action.escalate": "街呼区应", "action.created": "创建",
  "cameras.title": "摄像头", "cameras.zones": "区域", "cameras.newZone": "新建区域",
  "cameras.finish": "闭合多边形", "cameras.save": "保存区域", "cameras.clear": "清除草稿",
  "cameras.zoneId": "区域编号", "cameras.zoneType": "类型", "cameras.online": "在线",
  "cameras.offline": "离线", "cameras.connecting": "连接中", "cameras.stopped": "已停止",
  "cameras.frames": "已分析帧", "cameras.detect": "子码流", "cameras.warning": "注意",
  "zone.shop_front_band": "门前责任区", "zone.pavement": "人行道", "zone.roadway": "车行道",
  "zone.parking_bays": "停车泊位", "zone.plaza": "广场", "zone.green_space": "绿地",
  "zone.market_area": "市场区", "zone.night_market_area": "夜市区", "cameras.none": "暂无摄像头。",
  "cameras.missing": "本服务器未提供摄像头接口。", "cameras.noFrame": "暂无画面。",
  "export.title": "导出修正数据",
  "report.title": "市容秩序日报（一表通办）", "report.day": "日期", "report.print": "打印版",
  "report.trend": "近7日趋势（按标准）",
  "recur.badge": "复发", "recur.of": "#{id} 结案后再次出现", "recur.seen": "出现 {n} 次",
  "fact.sightings": "出现次数", "recur.suppressed": "已抑制 {n} 次",
  "recur.suppressedWhy": "已抑制 {n} 次：驳回后再次出现，未进入审核队列",
  "recur.lift": "解除抑制", "recur.lifted": "已解除抑制",
  "recur.liftedAt": "已于 {at} 解除抑制：此后再次出现将重新进入审核队列",
  "recur.ofTicket": "工单 #{id} 结案后再次出现", "fact.recurrence": "复发自",
  "tickets.earlier": "工单 #{id}（{status}{at}）", "fact.stillPresent": "仍存在",
  "tickets.observed": "开单后又发现 {n} 次 · 最近 {at}",
  "tickets.observationEvidence": "最近一次仍存在的证据", "list.sep": "、",
  "upload.title": "上传照片和行车记录仪视频", "upload.files": "照片或视频",
  "upload.gps": "GPS 轨迹（可选；GPX、NMEA 或 SRT，配一个视频）", "upload.submit": "上传",
  "upload.hint": "选择文件或拖放到此处。照片：{photos}；视频：{videos}。",
  "upload.none": "请选择至少一张照片或一个视频。",
  "upload.notMedia": "{name}：不是照片或视频（照片支持 {photos}；视频支持 {videos}），未上传任何文件。",
  "upload.notTrack": "{name}：不是 GPS 轨迹文件（GPX、NMEA 或 SRT），未上传任何文件。",
  "upload.trackNeedsVideo": "GPS 轨迹只能配一个视频，当前选择了 {n} 个，未上传任何文件。",
  "upload.results": "上传结果", "upload.sending": "上传中 {pct}%", "upload.photo": "照片", "upload.video": "视频",
  "upload.created": "新照片", "upload.again": "此前已上传：事件相同", "upload.found": "发现 {n} 个事件",
  "upload.clean": "未发现问题", "upload.jobAgain": "此前已上传：显示原任务", "upload.frames": "帧",
  "upload.incidents": "事件", "upload.track": "含 GPS 轨迹 {name}", "upload.review": "去审核",
  "job.queued": "排队中", "job.running": "分析中", "job.succeeded": "完成", "job.failed": "失败",
  "job.partial": "提前中止",
  "job.coverage": "已分析 {analysed} 秒 / 共 {duration} 秒", "job.expected": "{frames} 帧 / 约 {expected} 帧",
  "job.partialWhy": "视频在第 {analysed} 秒（共 {duration} 秒）处中断：此后的文件被截断或已损坏。此前发现的事件已保留。",
  "upload.network": "上传中断（连接已断开）",
  "tickets.system": "系统", "review.auto": "每 {s} 秒自动刷新",
};

for (const [group, words] of Object.entries(LABELS)) {
  for (const [key, word] of Object.entries(words)) {
    if (word.en) EN[`${group}.${key}`] = word.en;
    if (word.zh) ZH[`${group}.${key}`] = word.zh;
  }
}

let lang = localStorage.getItem("shirong.lang") === "en" ? "en" : "zh";

/** The text of ``key`` in the current language; ``{name}`` placeholders filled from ``params``. */
export function t(key, params = {}) {
  const table = lang === "en" ? EN : ZH;
  const text = table[key] ?? EN[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export function currentLang() {
  return lang;
}

// Error parameters that are words of the dictionary: shown in the user's language.
const PARAM_WORDS = { role: "role", roles: "role", status: "ticket_status", statuses: "ticket_status", action: "action" };

/** An API error as the user reads it: in Chinese the text of its ``code`` with ``params`` filled
 * in (``{detail}``: the English message); in English, or for a code without a text, ``detail``. */
export function errorText(code, params, detail) {
  const key = `error.${code}`;
  if (lang === "en" || !code || !(key in ZH)) return detail;
  const shown = { detail };
  for (const [name, value] of Object.entries(params || {})) {
    const word = (v) => (PARAM_WORDS[name] ? t(`${PARAM_WORDS[name]}.${v}`) : String(v));
    shown[name] = Array.isArray(value) ? value.map(word).join("、") : word(value);
  }
  return t(key, shown);
}

/** Chinese or English name of a taxonomy item (name_zh / name_en, or the key). */
export function nameOf(item) {
  if (!item) return "";
  if (lang === "zh") return item.name_zh || item.name;
  return item.name_en || (item.name || item.key).replaceAll("_", " ");
}

export function setLang(value) {
  lang = value;
  localStorage.setItem("shirong.lang", value);
  document.documentElement.lang = value === "en" ? "en" : "zh-CN";
  translateStatic();
}

/** Fill elements marked data-i18n; Chinese text in the HTML is the default. */
export function translateStatic() {
  for (const el of document.querySelectorAll("[data-i18n]")) {
    if (!el.dataset.zh) el.dataset.zh = el.textContent;
    el.textContent = lang === "en" ? t(el.dataset.i18n) : el.dataset.zh;
  }
}
