// Chinese by default; English through the header toggle (remembered in localStorage).
const EN = {
  "brand": "Shirong · Street order",
  "nav.review": "Review", "nav.tickets": "Tickets", "nav.cameras": "Cameras",
  "logout": "Log out",
  "login.title": "Log in", "login.username": "Username", "login.password": "Password",
  "login.submit": "Log in", "login.failed": "Wrong username or password",
  "status.pending": "pending", "status.confirmed": "confirmed", "status.rejected": "rejected",
  "status.new": "new", "status.dispatched": "dispatched", "status.accepted": "accepted",
  "status.rectified": "rectified", "status.closed": "closed", "status.cancelled": "cancelled",
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
  "cameras.missing": "The camera API is not available on this server.",
  "cameras.noFrame": "No frame yet.",
  "export.title": "Export corrections",
  "priority.normal": "normal", "priority.high": "high", "priority.urgent": "urgent",
  "reason.model_road": "model road", "reason.key_road": "key road", "reason.daytime": "08-18 h",
  "reason.complaint": "complaint",
};

const ZH = {
  "login.failed": "用户名或密码错误",
  "status.pending": "待审核", "status.confirmed": "已确认", "status.rejected": "已驳回",
  "status.new": "新建", "status.dispatched": "已派发", "status.accepted": "已受理",
  "status.rectified": "已整改", "status.closed": "已结案", "status.cancelled": "已撤销",
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
  "cameras.frames": "已分析帧",
  "zone.shop_front_band": "门前责任区", "zone.pavement": "人行道", "zone.roadway": "车行道",
  "zone.parking_bays": "停车泊位", "zone.plaza": "广场", "zone.green_space": "绿地",
  "zone.market_area": "市场区", "zone.night_market_area": "夜市区", "cameras.none": "暂无摄像头。",
  "cameras.missing": "本服务器未提供摄像头接口。", "cameras.noFrame": "暂无画面。",
  "export.title": "导出修正数据",
  "priority.normal": "普通", "priority.high": "高", "priority.urgent": "紧急",
  "reason.model_road": "示范路", "reason.key_road": "重点路", "reason.daytime": "白天时段",
  "reason.complaint": "市民投诉",
};

let lang = localStorage.getItem("shirong.lang") === "en" ? "en" : "zh";

export function t(key) {
  const table = lang === "en" ? EN : ZH;
  return table[key] ?? EN[key] ?? key;
}

export function currentLang() {
  return lang;
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
