//! The message catalogue: every user-facing string in Chinese (default) and English.
//!
//! Keys are stable; error codes are keys too (`error.<code>`), so the API's `message`
//! and the pages' texts come from the same table.

use axum::http::HeaderMap;

/// A display language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("en") {
            Some(Lang::En)
        } else if s.starts_with("zh") {
            Some(Lang::Zh)
        } else {
            None
        }
    }

    /// From the `lang` cookie, else the first known language in `Accept-Language`, else zh.
    pub fn from_headers(h: &HeaderMap) -> Lang {
        if let Some(c) = crate::auth::cookie(h, "lang").and_then(|v| Lang::parse(&v)) {
            return c;
        }
        h.get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').find_map(|part| Lang::parse(part.split(';').next().unwrap_or_default())))
            .unwrap_or_default()
    }

    /// Looks up a key; unknown keys come back as the key itself (visible, not silent).
    pub fn t(self, key: &str) -> &'static str {
        match CATALOGUE.binary_search_by(|(k, _, _)| (*k).cmp(key)) {
            Ok(i) => match self {
                Lang::Zh => CATALOGUE[i].1,
                Lang::En => CATALOGUE[i].2,
            },
            Err(_) => leak_key(key),
        }
    }
}

fn leak_key(key: &str) -> &'static str {
    // Unknown keys are rare programming errors; intern them once so the page still renders.
    use std::collections::HashSet;
    use std::sync::Mutex;
    static SEEN: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut g = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let set = g.get_or_insert_with(HashSet::new);
    if let Some(k) = set.get(key) {
        return k;
    }
    tracing::warn!(i18n.key = key, "missing translation");
    let k: &'static str = Box::leak(key.to_string().into_boxed_str());
    set.insert(k);
    k
}

/// (key, 中文, English), sorted by key (checked by a test).
pub static CATALOGUE: &[(&str, &str, &str)] = &[
    ("acct.address", "用水地址", "Address"),
    ("acct.amount", "金额", "Amount"),
    ("acct.arrears", "欠费", "Arrears"),
    ("acct.bills", "账单", "Bills"),
    ("acct.book", "册本", "Book"),
    ("acct.category", "用水类别", "Category"),
    ("acct.category.non_residential", "非居民", "Non-residential"),
    ("acct.category.residential", "居民", "Residential"),
    ("acct.category.special", "特种", "Special"),
    (
        "acct.change_hint",
        "换表前请先录入旧表的最后读数；旧表在新表安装日拆除。",
        "Record the old meter's final reading first; it is removed on the day the new one is installed.",
    ),
    ("acct.channel", "渠道", "Channel"),
    ("acct.contacts", "该户号的来电来件", "Contacts about this account"),
    ("acct.credit", "预存", "Credit"),
    ("acct.diameter", "口径", "Diameter"),
    ("acct.due", "缴费期限", "Due"),
    ("acct.e_bill", "电子账单", "E-bill"),
    ("acct.edit", "修改户号信息 / 过户", "Edit account / transfer"),
    ("acct.from_billing", "来自营业收费系统", "from the billing system"),
    ("acct.holder", "户主", "Holder"),
    ("acct.holders", "过户记录", "Holders"),
    ("acct.household", "人口", "Household"),
    ("acct.initial_reading", "起始读数", "Initial reading"),
    ("acct.installed", "安装日期", "Installed"),
    ("acct.last_reading", "最近读数", "Last reading"),
    ("acct.lat", "纬度", "Latitude"),
    ("acct.lon", "经度", "Longitude"),
    ("acct.meter_install", "装表 / 换表", "Install or change a meter"),
    ("acct.meter_save", "保存水表", "Save meter"),
    ("acct.meters", "水表", "Meters"),
    ("acct.model", "型号", "Model"),
    ("acct.new_holder", "户主(客户编号，过户时修改)", "Holder (customer id; change to transfer)"),
    ("acct.no", "户号", "Account no."),
    ("acct.open", "开户", "Open account"),
    ("acct.paid", "已缴", "Paid"),
    ("acct.payments", "缴费记录", "Payments"),
    ("acct.period", "账期", "Period"),
    ("acct.read_on", "抄表日期", "Read on"),
    ("acct.reading", "读数", "Reading"),
    ("acct.record_payment", "登记缴费", "Record payment"),
    ("acct.record_reading", "登记抄表", "Record reading"),
    ("acct.removed", "已拆除", "Removed"),
    ("acct.replaces", "替换旧表", "Replaces"),
    ("acct.replaces_none", "不替换(新增水表)", "Nothing (an additional meter)"),
    ("acct.serial", "表号", "Serial"),
    ("acct.status.active", "正常", "Active"),
    ("acct.status.closed", "销户", "Closed"),
    ("acct.status.suspended", "暂停", "Suspended"),
    ("acct.status_label", "状态", "Status"),
    ("acct.tariff", "水价", "Tariff"),
    ("acct.tier", "阶梯", "Tier"),
    ("acct.title", "户号", "Account"),
    ("acct.to_next_tier", "距下一阶梯", "to next tier"),
    ("acct.transfer_reason", "过户原因", "Transfer reason"),
    ("acct.txn", "交易流水号", "Transaction id"),
    ("acct.usage", "近12期用水量(m³)", "Usage, last 12 bills (m³)"),
    ("acct.ytd", "本年已用", "Used this year"),
    ("action.cancel", "取消", "Cancel"),
    ("action.create", "新建", "Create"),
    ("action.delete", "删除", "Delete"),
    ("action.edit", "编辑", "Edit"),
    ("action.export", "导出", "Export"),
    ("action.filter", "查询", "Search"),
    ("action.next", "下一页", "Next"),
    ("action.reset", "重置", "Reset"),
    ("action.retry", "重试", "Retry"),
    ("action.save", "保存", "Save"),
    ("action.search", "搜索", "Search"),
    ("action.send", "发送", "Send"),
    ("announce.label", "发布系统公告", "Broadcast an announcement"),
    ("announce.placeholder", "公告内容，将实时推送给所有在线用户", "Text pushed live to every signed-in user"),
    ("app.name", "水务客服信息系统", "Water Utility Customer Service"),
    ("app.short", "waterdesk", "waterdesk"),
    ("audit.event_type", "事件类型", "Event type"),
    ("audit.ip", "IP 地址", "IP address"),
    ("audit.method", "方法", "Method"),
    ("audit.outcome", "结果", "Outcome"),
    ("audit.params", "参数", "Parameters"),
    ("audit.path", "路径", "Path"),
    ("audit.seq", "序号", "No."),
    ("audit.status", "状态码", "Status"),
    ("audit.time", "时间", "Time"),
    ("audit.title", "审计日志", "Audit log"),
    ("audit.user", "用户", "User"),
    (
        "audit.verify_hint",
        "日志以哈希链防篡改；运行 waterdesk audit verify 校验完整性。",
        "Entries are hash-chained; run `waterdesk audit verify` to check integrity.",
    ),
    ("bill.status.paid", "已缴清", "Paid"),
    ("bill.status.partial", "部分缴费", "Partly paid"),
    ("bill.status.unpaid", "未缴", "Unpaid"),
    ("camp.account_nos", "户号(每行一个)", "Account numbers (one per line)"),
    ("camp.agents", "坐席", "Agents"),
    ("camp.assign", "分配给所选坐席", "Assign to selected agents"),
    ("camp.assignee", "坐席", "Agent"),
    ("camp.attempts", "呼叫次数", "Attempts"),
    ("camp.categories", "回访的反映类别", "Categories to visit"),
    ("camp.close", "关闭任务", "Close campaign"),
    ("camp.close_confirm", "确定关闭该外呼任务？", "Close this campaign?"),
    ("camp.days", "最近几天内答复的", "Replied within (days)"),
    ("camp.done", "已完成", "Done"),
    ("camp.evaluation", "评价/回答", "Evaluation / answers"),
    ("camp.generate", "生成/补充名单", "Generate call list"),
    ("camp.kind", "类型", "Kind"),
    ("camp.kind.arrears", "欠费催缴", "Arrears reminder"),
    ("camp.kind.return_visit", "回访", "Return visit"),
    ("camp.kind.survey", "信息收集/调查", "Survey"),
    ("camp.max_attempts", "最多呼叫次数", "Max attempts"),
    ("camp.min_arrears", "欠费金额不低于(元)", "Arrears at least (yuan)"),
    ("camp.min_days", "逾期天数不少于", "Overdue at least (days)"),
    ("camp.name", "名称", "Name"),
    ("camp.new", "新建外呼任务", "New campaign"),
    ("camp.outcome", "最近结果", "Last outcome"),
    ("camp.outcome.no_answer", "无人接听", "No answer"),
    ("camp.outcome.reached", "接通", "Reached"),
    ("camp.outcome.refused", "拒绝", "Refused"),
    ("camp.outcome.wrong_number", "号码错误", "Wrong number"),
    ("camp.pending", "待呼", "Pending"),
    ("camp.questions", "调查问题(每行一个)", "Questions (one per line)"),
    ("camp.retry_minutes", "重呼间隔(分钟)", "Retry after (minutes)"),
    ("camp.sat.basically_satisfied", "基本满意", "Basically satisfied"),
    ("camp.sat.satisfied", "满意", "Satisfied"),
    ("camp.sat.unsatisfied", "不满意", "Unsatisfied"),
    (
        "camp.sms_hint",
        "例如：尊敬的客户，{subject}，请及时缴纳。留空则不发送",
        "e.g. Dear customer, {subject}. Leave empty for no SMS",
    ),
    ("camp.sms_template", "无人接听时发送短信", "SMS when nobody answers"),
    ("camp.status", "状态", "Status"),
    ("camp.status.active", "进行中", "Active"),
    ("camp.status.closed", "已关闭", "Closed"),
    ("camp.subject", "事由", "Subject"),
    ("camp.target.done", "已完成", "Done"),
    ("camp.target.failed", "失败", "Failed"),
    ("camp.target.pending", "待呼", "Pending"),
    ("camp.target.sms_sent", "已发短信", "SMS sent"),
    ("camp.targets", "名单数", "Targets"),
    ("camp.title", "外呼任务", "Outbound campaigns"),
    ("common.all", "全部", "All"),
    ("common.builtin", "内置", "Built-in"),
    ("common.code", "编码", "Code"),
    ("common.created", "创建时间", "Created"),
    ("common.description", "说明", "Description"),
    ("common.disabled", "停用", "Disabled"),
    ("common.empty", "暂无数据", "Nothing here yet"),
    ("common.enabled", "启用", "Enabled"),
    ("common.from", "起", "From"),
    ("common.name", "名称", "Name"),
    ("common.name_en", "英文名称", "English name"),
    ("common.next", "下一页", "Next page"),
    ("common.no", "否", "No"),
    ("common.order", "排序", "Order"),
    ("common.status", "状态", "Status"),
    ("common.to", "止", "To"),
    ("common.type", "类型", "Type"),
    ("common.updated_at", "更新时间", "Updated"),
    ("common.yes", "是", "Yes"),
    ("console.calls", "我的外呼任务", "My calls"),
    ("console.contact", "来电来件登记", "Record a contact"),
    ("console.dismiss", "关闭", "Dismiss"),
    ("console.extension", "分机号", "Extension"),
    (
        "console.keys",
        "快捷键：Ctrl+Enter 保存，Alt+N 新建，Alt+1…9 选择类别，/ 搜索",
        "Keys: Ctrl+Enter save, Alt+N new, Alt+1…9 category, / search",
    ),
    ("console.new", "新建", "New"),
    ("console.no_calls", "暂无待呼名单", "No calls due"),
    ("console.not_seated", "未就座：来电不会弹屏", "Not seated: calls will not pop up"),
    ("console.ringing", "来电振铃", "Ringing"),
    ("console.save", "保存", "Save"),
    ("console.search", "查找客户", "Find a customer"),
    ("console.seat", "就座", "Sit here"),
    ("console.seated", "已就座分机", "Seated at"),
    ("console.title", "坐席工作台", "Agent console"),
    ("console.today", "我今天的来电来件", "My contacts today"),
    ("contact.account", "户号ID", "Account id"),
    ("contact.address", "地址", "Address"),
    ("contact.caller", "来电号码", "Caller"),
    ("contact.category", "反映类别", "Category"),
    ("contact.channel", "反映形式", "Channel"),
    ("contact.content", "反映内容", "Content"),
    ("contact.customer", "客户编号", "Customer id"),
    ("contact.direction", "方向", "Direction"),
    ("contact.direction.inbound", "呼入", "Inbound"),
    ("contact.direction.outbound", "呼出", "Outbound"),
    ("contact.no", "热线编号", "Contact no."),
    ("contact.reply", "答复", "Reply"),
    ("contact.source", "反映来源", "Source"),
    ("contact.status", "状态", "Status"),
    ("contact.status.draft", "草稿", "Draft"),
    ("contact.status.open", "已登记", "Open"),
    ("contact.status.replied", "已答复", "Replied"),
    ("contact.time", "时间", "Time"),
    ("contacts.agent", "坐席", "Agent"),
    ("contacts.duration", "通话时长", "Duration"),
    ("contacts.mine", "只看我的", "Mine only"),
    ("contacts.recording", "录音", "Recording"),
    ("contacts.title", "来电来件查询", "Contacts"),
    ("cust.accounts", "户号", "Accounts"),
    ("cust.id_card", "居民身份证", "Resident ID card"),
    ("cust.id_number", "证件号码", "ID number"),
    ("cust.id_type", "证件类型", "ID type"),
    ("cust.kind.organisation", "单位", "Organisation"),
    ("cust.kind.person", "个人", "Person"),
    (
        "cust.masked",
        "部分个人信息已脱敏(无查看客户敏感信息权限)。",
        "Some personal data is masked (no permission to see it).",
    ),
    ("cust.match.account_no", "户号", "Account no."),
    ("cust.match.address", "地址", "Address"),
    ("cust.match.name", "姓名包含", "Name contains"),
    ("cust.match.name_exact", "姓名", "Name"),
    ("cust.match.name_prefix", "姓名开头", "Name starts with"),
    ("cust.match.phone", "电话", "Phone"),
    ("cust.match.phone_last4", "电话后四位", "Last 4 digits"),
    ("cust.matched", "匹配方式", "Matched by"),
    ("cust.name", "客户名称", "Name"),
    ("cust.new", "新建客户", "New customer"),
    ("cust.passport", "护照", "Passport"),
    ("cust.search", "客户查询", "Customer search"),
    ("cust.search_hint", "户号、电话(或后四位)、姓名或地址", "Account no., phone (or last 4 digits), name or address"),
    ("cust.title", "客户", "Customer"),
    ("cust.uscc", "统一社会信用代码", "Unified social credit code"),
    ("dash.hello", "您好", "Hello"),
    ("dash.locked", "锁定账号", "Locked accounts"),
    ("dash.perms", "您的权限", "Your permissions"),
    ("dash.roles", "您的角色", "Your roles"),
    ("dash.sign_in_failed", "登录失败", "Failed sign-ins"),
    ("dash.sign_in_ok", "登录成功", "Sign-ins"),
    ("dash.sign_ins", "近24小时登录情况", "Sign-ins, last 24 hours"),
    ("dash.title", "工作台", "Dashboard"),
    ("dash.unit", "所属单位", "Your unit"),
    ("dash.users", "用户总数", "Users"),
    (
        "dash.welcome",
        "欢迎使用水务客服信息系统。左侧菜单按您的权限显示。",
        "Welcome. The menu on the left shows what your roles allow.",
    ),
    ("dict.items", "字典项", "Items"),
    ("dict.label_en", "英文标签", "English label"),
    ("dict.label_zh", "中文标签", "Chinese label"),
    ("dict.title", "数据字典", "Dictionaries"),
    ("error.account_disabled", "账号已停用，请联系管理员。", "This account is disabled. Contact your administrator."),
    (
        "error.account_locked",
        "登录失败次数过多，账号已锁定，请稍后再试或联系管理员解锁。",
        "Too many failed sign-ins: the account is locked. Try later or ask an administrator to unlock it.",
    ),
    ("error.bad_request", "请求格式错误。", "The request is malformed."),
    (
        "error.conflict",
        "该记录已被他人修改，请刷新后重试。",
        "Someone else changed this meanwhile. Reload and try again.",
    ),
    (
        "error.csrf_failed",
        "页面已过期或请求来源不可信，请刷新后重试。",
        "The page expired or the request did not come from this site. Reload and try again.",
    ),
    ("error.duplicate", "该记录已存在。", "This record already exists."),
    ("error.forbidden", "您没有执行此操作的权限。", "You do not have permission for this operation."),
    ("error.in_use", "该记录仍在使用中，不能删除。", "This record is still in use and cannot be deleted."),
    (
        "error.internal",
        "服务器内部错误，已记录，请稍后重试。",
        "Internal error. It has been logged; please try again later.",
    ),
    ("error.invalid_body", "请求内容不符合接口定义。", "The request body does not match the API."),
    ("error.invalid_credentials", "用户名或密码错误。", "Wrong username or password."),
    ("error.invalid_json", "请求体不是有效的 JSON。", "The request body is not valid JSON."),
    ("error.invalid_signature", "签名无效或已过期。", "Invalid or expired signature."),
    ("error.invalid_totp", "动态验证码错误。", "Wrong authenticator code."),
    ("error.method_not_allowed", "不支持该请求方法。", "Method not allowed."),
    ("error.not_found", "请求的资源不存在。", "Not found."),
    ("error.password_change_required", "请先修改密码。", "You must change your password first."),
    ("error.payload_too_large", "请求体过大。", "The request body is too large."),
    (
        "error.separation_of_duties",
        "三员分立：同一用户不能同时拥有系统、安全、审计管理权限。",
        "Separation of duties: one user cannot combine system, security and audit administration.",
    ),
    ("error.session_expired", "会话已过期，请重新登录。", "Your session expired. Please sign in again."),
    ("error.timeout", "请求超时。", "The request timed out."),
    (
        "error.totp_enrolment_required",
        "管理员必须先绑定动态口令(TOTP)。",
        "Administrators must enrol an authenticator (TOTP) first.",
    ),
    ("error.totp_required", "请输入动态验证码。", "Enter your authenticator code."),
    ("error.unauthenticated", "请先登录。", "Please sign in."),
    ("error.unsupported_media_type", "请使用 application/json 提交。", "Send the body as application/json."),
    (
        "error.upstream_unavailable",
        "外部系统(营业收费系统)暂时无法访问，请稍后再试。",
        "An outside system (billing) is unavailable. Please try again later.",
    ),
    ("error.validation_failed", "输入有误，请检查后重试。", "Some input is invalid. Check and try again."),
    ("field.data_scope", "数据范围", "Data scope"),
    ("field.display_name", "姓名", "Name"),
    ("field.email", "电子邮箱", "E-mail"),
    ("field.kind", "类型", "Kind"),
    ("field.last_login", "最近登录", "Last sign-in"),
    ("field.parent", "上级单位", "Parent unit"),
    ("field.phone", "电话", "Phone"),
    ("field.roles", "角色", "Roles"),
    ("field.unit", "单位", "Unit"),
    ("field.username", "用户名", "Username"),
    ("field.value", "值", "Value"),
    ("imp.all_or_nothing", "全部成功才导入", "All or nothing"),
    ("imp.export_bills", "导出账单", "Export bills"),
    ("imp.export_customers", "导出客户户号", "Export customers"),
    ("imp.export_payments", "导出缴费", "Export payments"),
    ("imp.exports", "导出", "Export"),
    ("imp.file", "文件", "File"),
    (
        "imp.hint",
        "选择 CSV(GBK 或 UTF-8，Excel 另存为即可)或 Excel(.xlsx)文件，首行为列名(中文或英文)。客户：每行一个户号，必填户号、户名、地址；抄表：户号、抄表日期、读数；账单：户号、账期、水量、水费；缴费：户号、金额、交易流水号。先预览列对应关系再导入；重复导入同一文件不会产生重复数据。",
        "Choose a CSV (GBK or UTF-8, as Excel saves it) or Excel (.xlsx) file whose first row names the columns (Chinese or English). Customers: one account per row, with account number, name and address; readings: account number, date, reading; bills: account number, period, volume, water charge; payments: account number, amount, transaction id. Preview the column mapping first; importing the same file again creates no duplicates.",
    ),
    ("imp.kind", "数据类型", "Data"),
    ("imp.kind.bills", "账单", "Bills"),
    ("imp.kind.customers", "客户与户号", "Customers and accounts"),
    ("imp.kind.meters", "水表", "Meters"),
    ("imp.kind.payments", "缴费", "Payments"),
    ("imp.kind.readings", "抄表读数", "Meter readings"),
    ("imp.mode", "导入方式", "Mode"),
    ("imp.preview", "预览", "Preview"),
    ("imp.rows", "行数", "Rows"),
    ("imp.run", "导入", "Import"),
    ("imp.runs", "最近的导入", "Recent imports"),
    ("imp.skip_bad_rows", "跳过错误行", "Skip bad rows"),
    ("imp.started", "开始时间", "Started"),
    ("imp.status", "状态", "Status"),
    ("imp.status.done", "已完成", "Done"),
    ("imp.status.failed", "失败", "Failed"),
    ("imp.status.interrupted", "已中断", "Interrupted"),
    ("imp.status.running", "进行中", "Running"),
    ("imp.title", "批量导入", "Import"),
    ("jobs.attempts", "尝试次数", "Attempts"),
    ("jobs.last_error", "最近错误", "Last error"),
    ("jobs.run_at", "计划时间", "Run at"),
    ("jobs.status.dead", "死信", "Dead"),
    ("jobs.status.done", "已完成", "Done"),
    ("jobs.status.pending", "待执行", "Pending"),
    ("jobs.status.running", "执行中", "Running"),
    ("jobs.title", "后台任务", "Background jobs"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Sign in"),
    (
        "login.subtitle",
        "依据 DB33/T 2050-2017 建设的供排水客户服务信息系统",
        "Customer service information system per DB33/T 2050-2017",
    ),
    ("login.title", "登录", "Sign in"),
    ("login.totp", "动态验证码", "Authenticator code"),
    (
        "login.totp_hint",
        "请输入身份验证器 App 显示的 6 位数字。",
        "Enter the 6-digit code shown by your authenticator app.",
    ),
    ("login.username", "用户名", "Username"),
    ("msg.created", "已创建。", "Created."),
    ("msg.deleted", "已删除。", "Deleted."),
    ("msg.password_changed", "密码已修改。", "Password changed."),
    ("msg.password_reset", "已重置密码，临时密码仅显示一次：", "Password reset. The temporary password is shown once:"),
    ("msg.saved", "已保存。", "Saved."),
    ("msg.sent", "已发送。", "Sent."),
    (
        "msg.token_created",
        "接口令牌已创建，仅显示这一次，请立即保存：",
        "Token created. It is shown only now; store it safely:",
    ),
    (
        "msg.totp_enabled",
        "动态口令已启用，下次登录需要输入验证码。",
        "Authenticator enabled: sign-in now asks for a code.",
    ),
    ("msg.unlocked", "已解锁。", "Unlocked."),
    ("msg.user_created", "用户已创建，初始密码仅显示一次：", "User created. The initial password is shown once:"),
    ("nav.admin", "系统管理", "Administration"),
    ("nav.api_docs", "接口文档", "API docs"),
    ("nav.audit", "审计日志", "Audit log"),
    ("nav.campaigns", "外呼任务", "Campaigns"),
    ("nav.console", "坐席工作台", "Agent console"),
    ("nav.contacts", "来电来件", "Contacts"),
    ("nav.customers", "客户查询", "Customers"),
    ("nav.dashboard", "工作台", "Dashboard"),
    ("nav.dicts", "数据字典", "Dictionaries"),
    ("nav.jobs", "后台任务", "Jobs"),
    ("nav.logout", "退出登录", "Sign out"),
    ("nav.params", "系统参数", "Parameters"),
    ("nav.password", "修改密码", "Change password"),
    ("nav.roles", "角色权限", "Roles"),
    ("nav.security", "安全", "Security"),
    ("nav.totp", "动态口令", "Authenticator"),
    ("nav.units", "组织机构", "Organisation"),
    ("nav.users", "用户管理", "Users"),
    ("params.title", "系统参数", "System parameters"),
    ("password.confirm", "确认新密码", "Confirm new password"),
    ("password.mismatch", "两次输入的新密码不一致。", "The new passwords do not match."),
    (
        "password.must_change",
        "您的密码需要修改后才能继续使用系统。",
        "You must change your password before continuing.",
    ),
    ("password.new", "新密码", "New password"),
    ("password.old", "当前密码", "Current password"),
    (
        "password.policy",
        "至少 {n} 位，需包含大写字母、小写字母、数字、符号中的三类，且不能包含用户名。",
        "At least {n} characters mixing three of: upper case, lower case, digits, symbols; not containing the username.",
    ),
    ("password.title", "修改密码", "Change password"),
    ("qa.comment", "质检意见", "Comment"),
    ("qa.save", "保存评分", "Save scores"),
    ("qa.title", "服务质检评分", "QA scoring"),
    ("role.permissions", "权限", "Permissions"),
    ("role.title", "角色权限", "Roles and permissions"),
    ("scope.all", "全部", "All"),
    ("scope.own", "本人", "Own"),
    ("scope.unit", "本单位", "Own unit"),
    ("scope.unit_tree", "本单位及下级", "Unit and below"),
    ("token.created", "创建时间", "Created"),
    ("token.last_used", "最近使用", "Last used"),
    ("token.new", "新建接口令牌", "New integration token"),
    ("token.prefix", "前缀", "Prefix"),
    ("token.revoke", "吊销", "Revoke"),
    ("token.revoked", "已吊销", "Revoked"),
    ("token.scopes", "授权范围", "Scopes"),
    ("token.title", "接口令牌", "Integration tokens"),
    ("totp.confirm", "确认启用", "Enable"),
    ("totp.enabled", "您已启用动态口令。", "Your authenticator is enabled."),
    (
        "totp.required",
        "管理员账号必须绑定动态口令后才能继续。",
        "Administrator accounts must enrol an authenticator to continue.",
    ),
    (
        "totp.scan",
        "用身份验证器 App 扫描二维码（或手动输入密钥），然后输入显示的 6 位验证码。",
        "Scan the QR code with an authenticator app (or type the key), then enter the 6-digit code.",
    ),
    ("totp.secret", "密钥", "Key"),
    ("totp.title", "动态口令 (TOTP)", "Authenticator (TOTP)"),
    ("unit.title", "组织机构", "Organisation units"),
    ("user.kind.customer", "客户", "Customer"),
    ("user.kind.service", "接口账号", "Service account"),
    ("user.kind.staff", "员工", "Staff"),
    ("user.locked", "已锁定", "Locked"),
    ("user.new", "新建用户", "New user"),
    ("user.reset_password", "重置密码", "Reset password"),
    ("user.title", "用户管理", "Users"),
    ("user.unlock", "解锁", "Unlock"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_sorted_and_unique() {
        for w in CATALOGUE.windows(2) {
            assert!(w[0].0 < w[1].0, "{} must come before {}", w[1].0, w[0].0);
        }
    }

    #[test]
    fn every_error_code_has_a_message() {
        for code in [
            "validation_failed",
            "invalid_credentials",
            "account_locked",
            "account_disabled",
            "totp_required",
            "invalid_totp",
            "unauthenticated",
            "session_expired",
            "forbidden",
            "password_change_required",
            "totp_enrolment_required",
            "not_found",
            "duplicate",
            "in_use",
            "separation_of_duties",
            "internal",
            "invalid_json",
            "invalid_body",
            "unsupported_media_type",
            "payload_too_large",
            "csrf_failed",
            "bad_request",
            "method_not_allowed",
            "timeout",
        ] {
            let key = format!("error.{code}");
            assert!(CATALOGUE.iter().any(|(k, _, _)| *k == key), "{key}");
        }
    }

    #[test]
    fn language_negotiation() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::from_headers(&h), Lang::Zh);
        h.insert("accept-language", "en-US,en;q=0.9".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert("cookie", "lang=zh-CN".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::Zh);
        assert_eq!(Lang::En.t("login.title"), "Sign in");
        assert_eq!(Lang::Zh.t("login.title"), "登录");
    }
}
