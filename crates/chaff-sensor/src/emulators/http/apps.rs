//! The applications the server can pose as (`FAKE_APP`): their login pages on their usual
//! paths, and what they answer to a login attempt (always a refusal). Each route returns a
//! [`Reply`]; a path the application does not own is left to the front server.

use std::fmt::Write as _;
use std::time::SystemTime;

use bytes::Bytes;
use hyper::{Method, StatusCode};

use super::config::{FakeApp, Settings};
use super::credentials::{self, Carrier, Credentials};
use super::pages::{self, Reply, Style, html_escape, url_encode};
use crate::event::civil_from_days;

/// What a page needs to know about the request it answers.
#[derive(Clone, Copy, Debug)]
pub struct Exchange<'a> {
    pub method: &'a Method,
    /// The percent-decoded path, for routing.
    pub path: &'a str,
    /// The host the client asked for, safe to reflect ([`pages::reflectable_host`]).
    pub host: &'a str,
    pub port: u16,
    pub tls: bool,
    /// The request's body, as captured.
    pub body: &'a [u8],
    /// The login attempts the request carries.
    pub credentials: &'a [Credentials],
}

impl Exchange<'_> {
    /// `http://host` or `https://host`: where absolute links and redirects point.
    fn base(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.host)
    }

    fn is(&self, method: &Method) -> bool {
        self.method == method
    }

    /// GET, HEAD or POST: what a page answers; anything else gets the server's refusal.
    fn reads_or_posts(&self) -> bool {
        self.is(&Method::GET) || self.is(&Method::HEAD) || self.is(&Method::POST)
    }

    /// The first login attempt carried by `carrier`.
    fn login(&self, carrier: Carrier) -> Option<&Credentials> {
        self.credentials.iter().find(|c| c.carrier == carrier)
    }
}

/// The application the decky poses as, with the details fixed per decky.
#[derive(Clone, Debug)]
pub struct App {
    pub kind: FakeApp,
    /// The application's version (WordPress 6.4.3, Tomcat 9.0.85, ...).
    pub version: &'static str,
    /// Jenkins: the Jetty it embeds.
    jetty: &'static str,
    /// Jenkins: the instance session id of `X-Jenkins-Session`, and the hash in its static
    /// resource URLs.
    instance: String,
    /// WordPress: the blog's title.
    site_title: &'static str,
    /// When the application was installed (dates in its pages).
    installed: SystemTime,
}

const WORDPRESS_VERSIONS: [&str; 5] = ["6.4.3", "6.5.5", "6.2.5", "6.6.2", "6.4.5"];
const PHPMYADMIN_VERSIONS: [&str; 4] = ["5.2.1", "5.1.1", "5.2.0", "4.9.7"];
const TOMCAT_VERSIONS: [&str; 5] = ["9.0.85", "9.0.89", "10.1.19", "8.5.99", "9.0.71"];
/// Jenkins LTS releases with the Jetty each embeds.
const JENKINS_VERSIONS: [(&str, &str); 4] =
    [("2.426.3", "10.0.18"), ("2.440.3", "10.0.20"), ("2.452.2", "10.0.20"), ("2.414.3", "10.0.17")];
const SITE_TITLES: [&str; 6] =
    ["Company Blog", "Intranet News", "IT Services", "Team Updates", "Dev Notes", "Staff Portal"];

impl App {
    pub fn new(settings: &Settings, installed: SystemTime) -> App {
        let (version, jetty) = match settings.app {
            FakeApp::None => ("", ""),
            FakeApp::WordPress => (settings.pick("wordpress", &WORDPRESS_VERSIONS), ""),
            FakeApp::PhpMyAdmin => (settings.pick("phpmyadmin", &PHPMYADMIN_VERSIONS), ""),
            FakeApp::Tomcat => (settings.pick("tomcat", &TOMCAT_VERSIONS), ""),
            FakeApp::Jenkins => settings.pick("jenkins", &JENKINS_VERSIONS),
        };
        App {
            kind: settings.app,
            version,
            jetty,
            instance: format!("{:08x}", settings.number("instance", 1 << 32)),
            site_title: settings.pick("site-title", &SITE_TITLES),
            installed,
        }
    }

    /// The `Server` header the application sends when none is configured: `None` for the
    /// applications behind the decky's front server (Apache or nginx), `Some(None)` for
    /// Tomcat (which sends none), `Some(Some(..))` for Jenkins's Jetty.
    pub fn own_server(&self) -> Option<Option<String>> {
        match self.kind {
            FakeApp::Tomcat => Some(None),
            FakeApp::Jenkins => Some(Some(format!("Jetty({})", self.jetty))),
            _ => None,
        }
    }

    /// The style of the pages the application itself produces, when it answers directly
    /// rather than behind the front server.
    pub fn own_style(&self) -> Option<Style> {
        match self.kind {
            FakeApp::Tomcat => Some(Style::Tomcat { version: self.version }),
            FakeApp::Jenkins => Some(Style::Jetty),
            _ => None,
        }
    }

    /// The application's answer, or `None` when the path is not the application's (the
    /// front server answers).
    pub fn respond(&self, exchange: &Exchange<'_>) -> Option<Reply> {
        match self.kind {
            FakeApp::None => None,
            FakeApp::WordPress => self.wordpress(exchange),
            FakeApp::PhpMyAdmin => self.phpmyadmin(exchange),
            FakeApp::Tomcat => Some(self.tomcat(exchange)),
            FakeApp::Jenkins => Some(self.jenkins(exchange)),
        }
    }

    // WordPress ----------------------------------------------------------------------------

    fn wordpress(&self, exchange: &Exchange<'_>) -> Option<Reply> {
        if !exchange.reads_or_posts() {
            return None;
        }
        let base = exchange.base();
        let reply = match exchange.path {
            "/" | "/index.php" => Reply::html(StatusCode::OK, self.wordpress_home(&base))
                .header("link", format!("<{base}/wp-json/>; rel=\"https://api.w.org/\"")),
            "/wp-login.php" => {
                let error = exchange.is(&Method::POST).then(|| wordpress_login_error(exchange, &base));
                let username = exchange.login(Carrier::Form).map(|c| lossy(&c.username)).unwrap_or_default();
                Reply::html(StatusCode::OK, self.wordpress_login(&base, error.as_deref(), &username))
                    .header("expires", "Wed, 11 Jan 1984 05:00:00 GMT")
                    .header("cache-control", "no-cache, must-revalidate, max-age=0, no-store, private")
                    .header("set-cookie", "wordpress_test_cookie=WP%20Cookie%20check; path=/; HttpOnly")
                    .header("x-frame-options", "SAMEORIGIN")
            }
            "/wp-admin" => Reply::redirect(StatusCode::MOVED_PERMANENTLY, format!("{base}/wp-admin/")),
            path if path.starts_with("/wp-admin/") => {
                let target = url_encode(&format!("{base}{path}"));
                Reply::redirect(
                    StatusCode::FOUND,
                    format!("{base}/wp-login.php?redirect_to={target}&reauth=1"),
                )
                .header("expires", "Wed, 11 Jan 1984 05:00:00 GMT")
                .header("cache-control", "no-cache, must-revalidate, max-age=0, no-store, private")
            }
            "/xmlrpc.php" if exchange.is(&Method::POST) => wordpress_xmlrpc(exchange),
            "/xmlrpc.php" => Reply::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain;charset=UTF-8",
                "XML-RPC server accepts POST requests only.",
            )
            .header("allow", "POST"),
            _ => return None,
        };
        Some(reply)
    }

    fn wordpress_home(&self, base: &str) -> String {
        let (title, version) = (self.site_title, self.version);
        let (year, month, day) = date_of(self.installed);
        let posted = format!("{} {day}, {year}", MONTHS[month as usize - 1]);
        format!(
            "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n\t<meta charset=\"UTF-8\" />\n\t<meta name=\"viewport\" \
             content=\"width=device-width, initial-scale=1\" />\n<meta name='robots' content='max-image-preview:large' \
             />\n<title>{title}</title>\n<link rel=\"alternate\" type=\"application/rss+xml\" title=\"{title} &raquo; \
             Feed\" href=\"{base}/feed/\" />\n<link rel=\"alternate\" type=\"application/rss+xml\" title=\"{title} \
             &raquo; Comments Feed\" href=\"{base}/comments/feed/\" />\n<link rel='stylesheet' \
             id='wp-block-library-css' href='{base}/wp-includes/css/dist/block-library/style.min.css?ver={version}' \
             media='all' />\n<link rel=\"https://api.w.org/\" href=\"{base}/wp-json/\" />\n<link rel=\"EditURI\" \
             type=\"application/rsd+xml\" title=\"RSD\" href=\"{base}/xmlrpc.php?rsd\" />\n<meta name=\"generator\" \
             content=\"WordPress {version}\" />\n</head>\n\n<body class=\"home blog wp-embed-responsive\">\n\n<div \
             class=\"wp-site-blocks\"><header class=\"wp-block-template-part\">\n<div class=\"wp-block-group\"><p \
             class=\"wp-block-site-title\"><a href=\"{base}\" target=\"_self\" rel=\"home\">{title}</a></p></div>\n\
             </header>\n\n<main class=\"wp-block-group\">\n<ul class=\"wp-block-post-template\"><li class=\"wp-block-post \
             post-1 post type-post status-publish format-standard hentry category-uncategorized\">\n<h2 \
             class=\"wp-block-post-title\"><a href=\"{base}/?p=1\" target=\"_self\" >Hello world!</a></h2>\n<div \
             class=\"entry-content wp-block-post-content\">\n<p>Welcome to WordPress. This is your first post. Edit or \
             delete it, then start writing!</p>\n</div>\n<div class=\"wp-block-post-date\"><time \
             datetime=\"{year:04}-{month:02}-{day:02}T09:14:07+00:00\"><a href=\"{base}/?p=1\">{posted}</a></time></div>\n\
             </li></ul>\n</main>\n\n<footer class=\"wp-block-template-part\">\n<p class=\"has-text-align-center\">Proudly \
             powered by <a href=\"https://wordpress.org\" rel=\"nofollow\">WordPress</a></p>\n</footer></div>\n</body>\n\
             </html>\n"
        )
    }

    fn wordpress_login(&self, base: &str, error: Option<&str>, username: &str) -> String {
        let (title, version) = (self.site_title, self.version);
        let error = error.unwrap_or_default();
        let username = html_escape(username);
        format!(
            "<!DOCTYPE html>\n<html lang=\"en-US\">\n\t<head>\n\t<meta http-equiv=\"Content-Type\" \
             content=\"text/html; charset=UTF-8\" />\n\t<title>Log In &lsaquo; {title} &#8212; WordPress</title>\n\t\
             <meta name='robots' content='max-image-preview:large, noindex, noarchive' />\n<link rel='stylesheet' \
             id='dashicons-css' href='{base}/wp-includes/css/dashicons.min.css?ver={version}' media='all' />\n<link \
             rel='stylesheet' id='buttons-css' href='{base}/wp-includes/css/buttons.min.css?ver={version}' \
             media='all' />\n<link rel='stylesheet' id='forms-css' \
             href='{base}/wp-admin/css/forms.min.css?ver={version}' media='all' />\n<link rel='stylesheet' \
             id='login-css' href='{base}/wp-admin/css/l10n.min.css?ver={version}' media='all' />\n\t<meta \
             name='referrer' content='strict-origin-when-cross-origin' />\n\t\t<meta name=\"viewport\" \
             content=\"width=device-width\" />\n\t\t</head>\n\t<body class=\"login no-js login-action-login \
             wp-core-ui  locale-en-us\">\n\t<script type=\"text/javascript\">\n/* <![CDATA[ */\n\
             document.body.className = document.body.className.replace('no-js','js');\n/* ]]> */\n</script>\n\t\t\t\t<h1 \
             class=\"screen-reader-text\">Log In</h1>\n\t\t\t<div id=\"login\">\n\t\t<h1><a \
             href=\"https://wordpress.org/\">Powered by WordPress</a></h1>\n\t{error}\n\t\t<form name=\"loginform\" \
             id=\"loginform\" action=\"{base}/wp-login.php\" method=\"post\">\n\t\t\t<p>\n\t\t\t\t<label \
             for=\"user_login\">Username or Email Address</label>\n\t\t\t\t<input type=\"text\" name=\"log\" \
             id=\"user_login\" class=\"input\" value=\"{username}\" size=\"20\" autocapitalize=\"off\" \
             autocomplete=\"username\" required=\"required\" />\n\t\t\t</p>\n\n\t\t\t<div \
             class=\"user-pass-wrap\">\n\t\t\t\t<label for=\"user_pass\">Password</label>\n\t\t\t\t<div \
             class=\"wp-pwd\">\n\t\t\t\t\t<input type=\"password\" name=\"pwd\" id=\"user_pass\" class=\"input \
             password-input\" value=\"\" size=\"20\" autocomplete=\"current-password\" spellcheck=\"false\" \
             required=\"required\" />\n\t\t\t\t\t<button type=\"button\" class=\"button button-secondary wp-hide-pw \
             hide-if-no-js\" data-toggle=\"0\" aria-label=\"Show password\">\n\t\t\t\t\t\t<span class=\"dashicons \
             dashicons-visibility\" aria-hidden=\"true\"></span>\n\t\t\t\t\t</button>\n\t\t\t\t</div>\n\t\t\t</div>\n\
             \t\t\t\t\t\t<p class=\"forgetmenot\"><input name=\"rememberme\" type=\"checkbox\" id=\"rememberme\" \
             value=\"forever\"  /> <label for=\"rememberme\">Remember Me</label></p>\n\t\t\t<p class=\"submit\">\n\
             \t\t\t\t<input type=\"submit\" name=\"wp-submit\" id=\"wp-submit\" class=\"button button-primary \
             button-large\" value=\"Log In\" />\n\t\t\t\t\t\t\t\t\t<input type=\"hidden\" name=\"redirect_to\" \
             value=\"{base}/wp-admin/\" />\n\t\t\t\t\t\t\t\t\t<input type=\"hidden\" name=\"testcookie\" value=\"1\" />\n\
             \t\t\t</p>\n\t\t</form>\n\n\t\t\t\t\t<p id=\"nav\">\n\t\t\t\t<a class=\"wp-login-lost-password\" \
             href=\"{base}/wp-login.php?action=lostpassword\">Lost your password?</a>\t\t\t</p>\n\t\t\t\t\t<p \
             id=\"backtoblog\">\n\t\t\t<a href=\"{base}/\">&larr; Go to {title}</a>\t\t</p>\n\t\t\t</div>\n\t</body>\n\
             </html>\n"
        )
    }

    // phpMyAdmin ---------------------------------------------------------------------------

    fn phpmyadmin(&self, exchange: &Exchange<'_>) -> Option<Reply> {
        let path = exchange.path;
        let lower = path.to_ascii_lowercase();
        // Served at the root and under the usual aliases.
        for alias in ["/phpmyadmin", "/pma"] {
            if lower == alias {
                let location = format!("{}{path}/", exchange.base());
                return Some(Reply::redirect(StatusCode::MOVED_PERMANENTLY, location));
            }
        }
        let prefix = ["/phpmyadmin/", "/pma/"].into_iter().find(|p| lower.starts_with(p)).map_or(1, str::len);
        let page = &path[prefix.min(path.len())..];
        if !matches!(page, "" | "index.php") || !exchange.reads_or_posts() {
            return None;
        }
        let cookie_path = &path[..prefix];
        let login = exchange.login(Carrier::Form).filter(|_| exchange.is(&Method::POST));
        let error = login.map(|attempt| {
            let using = if attempt.password.is_empty() { "NO" } else { "YES" };
            format!(
                "<div class=\"alert alert-danger\" role=\"alert\"><img src=\"themes/dot.gif\" title=\"\" alt=\"\" \
                 class=\"icon ic_s_error\"> mysqli::real_connect(): (HY000/1045): Access denied for user \
                 &#039;{}&#039;@&#039;localhost&#039; (using password: {using})</div><div class=\"alert \
                 alert-danger\" role=\"alert\"><img src=\"themes/dot.gif\" title=\"\" alt=\"\" class=\"icon \
                 ic_s_error\"> Cannot log in to the MySQL server</div>",
                html_escape(&lossy(&attempt.username))
            )
        });
        let username = login.map(|c| lossy(&c.username)).unwrap_or_default();
        let token = random_hex(32);
        let body = self.phpmyadmin_login(error.as_deref().unwrap_or_default(), &username, &token);
        Some(
            Reply::html(StatusCode::OK, body)
                .header(
                    "set-cookie",
                    format!("phpMyAdmin={}; path={cookie_path}; HttpOnly; SameSite=Strict", random_hex(32)),
                )
                .header(
                    "set-cookie",
                    format!("pma_lang=en; Max-Age=2592000; path={cookie_path}; HttpOnly; SameSite=Strict"),
                )
                .header("x-ob_mode", "1")
                .header("x-frame-options", "DENY")
                .header("referrer-policy", "no-referrer")
                .header("x-xss-protection", "1; mode=block")
                .header("x-content-type-options", "nosniff")
                .header("x-permitted-cross-domain-policies", "none")
                .header("x-robots-tag", "noindex, nofollow")
                .header(
                    "cache-control",
                    "no-store, no-cache, must-revalidate,  pre-check=0, post-check=0, max-age=0",
                )
                .header("pragma", "no-cache"),
        )
    }

    fn phpmyadmin_login(&self, error: &str, username: &str, token: &str) -> String {
        let version = self.version;
        let username = html_escape(username);
        format!(
            "<!doctype html>\n<html lang=\"en\" dir=\"ltr\">\n<head>\n  <meta charset=\"utf-8\">\n  <meta \
             name=\"referrer\" content=\"no-referrer\">\n  <meta name=\"robots\" \
             content=\"noindex,nofollow,notranslate\">\n  <meta name=\"google\" content=\"notranslate\">\n  <style \
             id=\"cfs-style\">html{{display: none;}}</style>\n  <link rel=\"icon\" href=\"favicon.ico\" \
             type=\"image/x-icon\">\n  <link rel=\"shortcut icon\" href=\"favicon.ico\" type=\"image/x-icon\">\n  \
             <link rel=\"stylesheet\" type=\"text/css\" href=\"./themes/pmahomme/jquery/jquery-ui.css\">\n  <link \
             rel=\"stylesheet\" type=\"text/css\" href=\"js/vendor/codemirror/lib/codemirror.css?v={version}\">\n  \
             <link rel=\"stylesheet\" type=\"text/css\" href=\"./themes/pmahomme/css/theme.css?v={version}\">\n  \
             <title>phpMyAdmin</title>\n    <script data-cfasync=\"false\" type=\"text/javascript\" \
             src=\"js/vendor/jquery/jquery.min.js?v={version}\"></script>\n  <script data-cfasync=\"false\" \
             type=\"text/javascript\" src=\"js/dist/shared.js?v={version}\"></script>\n</head>\n<body \
             id=\"loginform\">\n\n\n<div id=\"page_content\">\n<div class=\"container\">\n<a \
             href=\"./url.php?url=https%3A%2F%2Fwww.phpmyadmin.net%2F\" target=\"_blank\" rel=\"noopener \
             noreferrer\" class=\"logo\">\n  <img src=\"./themes/pmahomme/img/logo_right.png\" id=\"imLogo\" \
             name=\"imLogo\" alt=\"phpMyAdmin\" border=\"0\">\n</a>\n<h1>\n  Welcome to <bdo dir=\"ltr\" \
             lang=\"en\">phpMyAdmin</bdo>\n</h1>\n\n<noscript>\n  <div class=\"alert alert-danger\" \
             role=\"alert\">\n  <img src=\"themes/dot.gif\" title=\"\" alt=\"\" class=\"icon ic_s_error\"> \
             Javascript must be enabled past this point!\n</div>\n</noscript>\n\n{error}\n\n<div class=\"card \
             mb-4\">\n<form method=\"post\" id=\"login_form\" action=\"index.php?route=/\" name=\"login_form\" \
             class=\"disableAjax hide js-show\">\n  <fieldset class=\"pma-fieldset\">\n    <legend>\n      \
             Log in\n      <a href=\"./doc/html/index.html\" target=\"documentation\"><img src=\"themes/dot.gif\" \
             title=\"Documentation\" alt=\"Documentation\" class=\"icon ic_b_help\"></a>\n    </legend>\n      \
             <div class=\"item\">\n        <label for=\"input_username\">Username:</label>\n        <input \
             type=\"text\" name=\"pma_username\" id=\"input_username\" value=\"{username}\" size=\"24\" \
             class=\"textfield\" autocomplete=\"username\">\n      </div>\n      <div class=\"item\">\n        \
             <label for=\"input_password\">Password:</label>\n        <input type=\"password\" \
             name=\"pma_password\" id=\"input_password\" value=\"\" size=\"24\" class=\"textfield\" \
             autocomplete=\"current-password\">\n      </div>\n      <input type=\"hidden\" name=\"server\" \
             value=\"1\">\n  </fieldset>\n  <fieldset class=\"pma-fieldset tblFooters\">\n    <input class=\"btn \
             btn-primary\" value=\"Log in\" type=\"submit\" id=\"input_go\">\n    <input type=\"hidden\" \
             name=\"route\" value=\"/\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\n  </fieldset>\n\
             </form>\n</div>\n</div>\n</div>\n</body>\n</html>\n"
        )
    }

    // Tomcat --------------------------------------------------------------------------------

    fn tomcat(&self, exchange: &Exchange<'_>) -> Reply {
        let style = Style::Tomcat { version: self.version };
        let error = |status| {
            let context =
                pages::ErrorContext { server: None, host: exchange.host, port: exchange.port, method: "" };
            pages::error_page(&style, status, &context)
        };
        if exchange.is(&Method::OPTIONS) {
            let mut reply = Reply::new(StatusCode::OK, "text/plain", Bytes::new())
                .header("allow", "GET, HEAD, POST, OPTIONS");
            reply.reason = Some("");
            return reply;
        }
        if !exchange.reads_or_posts() {
            return error(StatusCode::METHOD_NOT_ALLOWED).header("allow", "GET, HEAD, POST, OPTIONS");
        }
        let realm = |path: &str| {
            let manager = ["/manager/html", "/manager/status", "/manager/text", "/manager/jmxproxy"];
            let host_manager = ["/host-manager/html", "/host-manager/text"];
            if manager.iter().any(|p| path.starts_with(p)) {
                Some(("Tomcat Manager Application", "manager-gui"))
            } else if host_manager.iter().any(|p| path.starts_with(p)) {
                Some(("Tomcat Host Manager Application", "admin-gui"))
            } else {
                None
            }
        };
        let base = exchange.base();
        let mut reply = match exchange.path {
            "/" | "/index.jsp" => Reply::new(StatusCode::OK, "text/html;charset=UTF-8", self.tomcat_home()),
            "/manager" | "/host-manager" => {
                Reply::redirect(StatusCode::FOUND, format!("{base}{}/", exchange.path))
            }
            "/manager/" | "/host-manager/" => {
                Reply::redirect(StatusCode::FOUND, format!("{base}{}html", exchange.path))
            }
            path => match realm(path) {
                Some((realm, role)) => {
                    Reply::new(StatusCode::UNAUTHORIZED, "text/html;charset=ISO-8859-1", tomcat_401(role))
                        .header("cache-control", "private")
                        .header("www-authenticate", format!("Basic realm=\"{realm}\""))
                }
                None => return error(StatusCode::NOT_FOUND),
            },
        };
        reply.reason = Some("");
        reply
    }

    fn tomcat_home(&self) -> String {
        let version = self.version;
        let (year, ..) = date_of(SystemTime::now());
        format!(
            "\n\n\n<!DOCTYPE html>\n<html lang=\"en\">\n    <head>\n        <meta charset=\"UTF-8\" />\n        \
             <title>Apache Tomcat/{version}</title>\n        <link href=\"favicon.ico\" rel=\"icon\" \
             type=\"image/x-icon\" />\n        <link href=\"tomcat.css\" rel=\"stylesheet\" type=\"text/css\" />\n    \
             </head>\n\n    <body>\n        <div id=\"wrapper\">\n            <div id=\"navigation\" \
             class=\"curved container\">\n                <span id=\"nav-home\"><a \
             href=\"https://tomcat.apache.org/\">Home</a></span>\n                <span id=\"nav-hosts\"><a \
             href=\"/docs/\">Documentation</a></span>\n                <span id=\"nav-config\"><a \
             href=\"/docs/config/\">Configuration</a></span>\n                <span id=\"nav-examples\"><a \
             href=\"/examples/\">Examples</a></span>\n                <span id=\"nav-wiki\"><a \
             href=\"https://cwiki.apache.org/confluence/display/TOMCAT/\">Wiki</a></span>\n                <span \
             id=\"nav-lists\"><a href=\"https://tomcat.apache.org/lists.html\">Mailing Lists</a></span>\n           \
             <span id=\"nav-help\"><a href=\"https://tomcat.apache.org/findhelp.html\">Find Help</a></span>\n      \
             <br class=\"separator\" />\n            </div>\n            <div id=\"asf-box\">\n                \
             <h1>Apache Tomcat/{version}</h1>\n            </div>\n            <div id=\"upper\" class=\"curved \
             container\">\n                <div id=\"congrats\" class=\"curved container\">\n                    \
             <h2>If you're seeing this, you've successfully installed Tomcat. Congratulations!</h2>\n              \
             </div>\n                <div id=\"notice\">\n                    <img id=\"tomcat-logo\" \
             src=\"tomcat.svg\" alt=\"[tomcat logo]\" />\n                    <div id=\"tasks\">\n                  \
             <h3>Recommended Reading:</h3>\n                        <h4><a href=\"/docs/security-howto.html\">Security \
             Considerations How-To</a></h4>\n                        <h4><a href=\"/docs/manager-howto.html\">Manager \
             Application How-To</a></h4>\n                        <h4><a \
             href=\"/docs/cluster-howto.html\">Clustering/Session Replication How-To</a></h4>\n                    \
             </div>\n                </div>\n                <div id=\"actions\">\n                    <div \
             class=\"button\">\n                        <a class=\"container shadow\" href=\"/manager/status\"><span>Server \
             Status</span></a>\n                    </div>\n                    <div class=\"button\">\n              \
             <a class=\"container shadow\" href=\"/manager/html\"><span>Manager App</span></a>\n                    \
             </div>\n                    <div class=\"button\">\n                        <a class=\"container \
             shadow\" href=\"/host-manager/html\"><span>Host Manager</span></a>\n                    </div>\n       \
             </div>\n                <br class=\"separator\" />\n            </div>\n            <div id=\"middle\" \
             class=\"curved container\">\n                <h3>Developer Quick Start</h3>\n                <div \
             class=\"col25\">\n                    <div class=\"container\">\n                        <p><a \
             href=\"/docs/setup.html\">Tomcat Setup</a></p>\n                        <p><a \
             href=\"/docs/appdev/\">First Web Application</a></p>\n                    </div>\n                \
             </div>\n                <br class=\"separator\" />\n            </div>\n            <p \
             class=\"copyright\">Copyright &copy;1999-{year} Apache Software Foundation.  All Rights Reserved</p>\n   \
             </div>\n    </body>\n\n</html>\n"
        )
    }

    // Jenkins -------------------------------------------------------------------------------

    fn jenkins(&self, exchange: &Exchange<'_>) -> Reply {
        let base = exchange.base();
        let reply = if let Some(basic) = exchange.login(Carrier::Basic) {
            // The API takes Basic credentials on any path; wrong ones are refused outright.
            let message = format!("Invalid password/token for user: {}", lossy(&basic.username));
            pages::jetty_error(StatusCode::UNAUTHORIZED, &message)
        } else {
            match exchange.path {
                "/login" => {
                    Reply::new(StatusCode::OK, "text/html;charset=utf-8", self.jenkins_login("", "/"))
                }
                "/loginError" => Reply::new(
                    StatusCode::UNAUTHORIZED,
                    "text/html;charset=utf-8",
                    self.jenkins_login("Invalid username or password", "/"),
                ),
                "/j_spring_security_check" if exchange.is(&Method::POST) => {
                    Reply::redirect(StatusCode::FOUND, format!("{base}/loginError")).header(
                        "set-cookie",
                        format!("JSESSIONID.{}={}; Path=/; HttpOnly", self.instance, random_hex(32)),
                    )
                }
                path if path.starts_with("/static/") || path.starts_with("/adjuncts/") => {
                    pages::jetty_error(StatusCode::NOT_FOUND, "Not Found")
                }
                path => self.jenkins_forbidden(path),
            }
        };
        reply
            .header("x-content-type-options", "nosniff")
            .header("x-jenkins", self.version)
            .header("x-jenkins-session", self.instance.clone())
            .header("x-frame-options", "sameorigin")
    }

    /// What Jenkins answers an anonymous visitor anywhere but the login pages.
    fn jenkins_forbidden(&self, path: &str) -> Reply {
        let login = format!("/login?from={}", url_encode(path));
        let body = format!(
            "<html><head><meta http-equiv='refresh' content='1;url={login}'/><script id='redirect' \
             data-redirect-url='{login}' src='/static/{}/scripts/redirect.js'></script></head><body \
             style='background-color:white; color:white;'>\nAuthentication required\n<!--\n-->\n\n</body></html>\n",
            self.instance
        );
        Reply::new(StatusCode::FORBIDDEN, "text/html;charset=utf-8", body)
            .header("x-you-are-authenticated-as", "anonymous")
            .header(
                "x-you-are-in-group-disabled",
                "JENKINS-39402: use -Dhudson.security.AccessDeniedException2.REPORT_GROUP_HEADERS=true or use \
                 /whoAmI to diagnose",
            )
            .header("x-required-permission", "hudson.model.Hub.Read")
            .header("x-permission-implied-by", "hudson.security.Permission.GenericRead")
            .header("x-permission-implied-by", "hudson.model.Hub.Administer")
    }

    fn jenkins_login(&self, error: &str, from: &str) -> String {
        let resources = format!("/static/{}", self.instance);
        let error = if error.is_empty() {
            String::new()
        } else {
            format!("<div class=\"app-sign-in-register__error\">{error}</div>")
        };
        format!(
            "<!DOCTYPE html><html class=\"\"><head resURL=\"{resources}\" data-rooturl=\"\" \
             data-resurl=\"{resources}\" data-imagesurl=\"{resources}/images\" \
             data-extensions-available=\"true\"><title>Sign in [Jenkins]</title><meta name=\"ROBOTS\" \
             content=\"NOFOLLOW\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link \
             rel=\"stylesheet\" href=\"{resources}/jsbundles/simple-page.css\" type=\"text/css\"></head><body><div \
             class=\"simple-page\" role=\"main\"><div class=\"modal login\"><div id=\"loginIntroDefault\"><div \
             class=\"logo\"></div><h1>Sign in to Jenkins</h1></div>{error}<form method=\"post\" name=\"login\" \
             action=\"j_spring_security_check\"><div class=\"jenkins-form-item jenkins-form-item--tight\"><label \
             class=\"jenkins-form-label\" for=\"j_username\">Username</label><input autocorrect=\"off\" \
             autocomplete=\"username\" name=\"j_username\" id=\"j_username\" type=\"text\" autofocus=\"autofocus\" \
             class=\"jenkins-input \" autocapitalize=\"off\"></div><div class=\"jenkins-form-item \
             jenkins-form-item--tight\"><label class=\"jenkins-form-label\" for=\"j_password\">Password</label><input \
             name=\"j_password\" id=\"j_password\" type=\"password\" class=\"jenkins-input \"></div><div \
             class=\"jenkins-checkbox jenkins-form-item jenkins-form-item--tight jenkins-!-margin-bottom-3\"><input \
             type=\"checkbox\" id=\"remember_me\" name=\"remember_me\"><label for=\"remember_me\">Keep me signed \
             in</label></div><input name=\"from\" type=\"hidden\" value=\"{}\"><button type=\"submit\" \
             name=\"Submit\" class=\"jenkins-button jenkins-button--primary\">Sign in</button></form><div \
             class=\"footer\"></div></div></div></body></html>",
            html_escape(from)
        )
    }
}

/// WordPress's message for a failed login (its `wp-login.php` answers 200 with the form).
fn wordpress_login_error(exchange: &Exchange<'_>, base: &str) -> String {
    let attempt = exchange.login(Carrier::Form);
    let username = attempt.map(|c| lossy(&c.username)).unwrap_or_default();
    let message = if username.is_empty() {
        "<strong>Error:</strong> The username field is empty.".to_owned()
    } else if attempt.is_none_or(|c| c.password.is_empty()) {
        "<strong>Error:</strong> The password field is empty.".to_owned()
    } else {
        format!(
            "<strong>Error:</strong> The password you entered for the username <strong>{}</strong> is incorrect. \
             <a href=\"{base}/wp-login.php?action=lostpassword\">Lost your password?</a>",
            html_escape(&username)
        )
    };
    format!("<div id=\"login_error\" class=\"notice notice-error\"><p>{message}</p></div>")
}

/// WordPress's XML-RPC endpoint: every login is refused; the method list answers the
/// scanners that look for it.
fn wordpress_xmlrpc(exchange: &Exchange<'_>) -> Reply {
    let attempts = exchange.credentials.iter().filter(|c| c.carrier == Carrier::Xmlrpc).count();
    let method = credentials::xmlrpc_method(exchange.body);
    let body = match method.as_deref() {
        None => xmlrpc_fault(-32700, "parse error. not well formed"),
        Some("system.multicall") => {
            let mut results = String::new();
            for _ in 0..attempts.max(1) {
                let _ = write!(
                    results,
                    "<value>{}</value>",
                    fault_struct(403, "Incorrect username or password.")
                );
            }
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse>\n  <params>\n    <param>\n      \
                 <value>\n      <array><data>\n  {results}\n</data></array>\n      </value>\n    </param>\n  \
                 </params>\n</methodResponse>\n"
            )
        }
        Some(_) if attempts > 0 => xmlrpc_fault(403, "Incorrect username or password."),
        Some("system.listMethods") => {
            let mut values = String::new();
            for method in XMLRPC_METHODS {
                let _ = writeln!(values, "  <value><string>{method}</string></value>");
            }
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse>\n  <params>\n    <param>\n      \
                 <value>\n      <array><data>\n{values}</data></array>\n      </value>\n    </param>\n  </params>\n\
                 </methodResponse>\n"
            )
        }
        Some(other) => xmlrpc_fault(
            -32601,
            &format!("server error. requested method {} does not exist.", html_escape(other)),
        ),
    };
    Reply::new(StatusCode::OK, "text/xml; charset=UTF-8", body)
}

/// Some of the methods WordPress's XML-RPC server lists.
const XMLRPC_METHODS: [&str; 16] = [
    "system.multicall",
    "system.listMethods",
    "system.getCapabilities",
    "demo.addTwoNumbers",
    "demo.sayHello",
    "pingback.extensions.getPingbacks",
    "pingback.ping",
    "mt.publishPost",
    "mt.getTrackbackPings",
    "metaWeblog.newMediaObject",
    "metaWeblog.getUsersBlogs",
    "blogger.getUsersBlogs",
    "wp.getUsersBlogs",
    "wp.getPosts",
    "wp.getUsers",
    "wp.getOptions",
];

fn fault_struct(code: i32, message: &str) -> String {
    format!(
        "<struct>\n  <member><name>faultCode</name><value><int>{code}</int></value></member>\n  \
         <member><name>faultString</name><value><string>{message}</string></value></member>\n</struct>"
    )
}

fn xmlrpc_fault(code: i32, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse>\n  <fault>\n    <value>\n      {}\n    \
         </value>\n  </fault>\n</methodResponse>\n",
        fault_struct(code, message)
    )
}

/// Tomcat's manager answer to a missing or wrong login, which tells the role it wants.
fn tomcat_401(role: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\">\n <head>\n  <title>401 Unauthorized</title>\n  <style \
         type=\"text/css\">\n    <!--\n    BODY {{font-family:Tahoma,Arial,sans-serif;color:black;background-color:white;\
         font-size:12px;}}\n    H1 {{font-family:Tahoma,Arial,sans-serif;color:white;background-color:#525D76;\
         font-size:22px;}}\n    PRE, TT {{border: 1px dotted #525D76}}\n    A {{color : black;}}A.name {{color : \
         black;}}\n    -->\n  </style>\n </head>\n <body>\n   <h1>401 Unauthorized</h1>\n   <p>\n    You are not \
         authorized to view this page. If you have not changed\n    any configuration files, please examine the \
         file\n    <tt>conf/tomcat-users.xml</tt> in your installation. That\n    file must contain the credentials \
         to let you use this webapp.\n   </p>\n   <p>\n    For example, to add the <tt>{role}</tt> role to a user \
         named\n    <tt>tomcat</tt> with a password of <tt>s3cret</tt>, add the following to the\n    config file \
         listed above.\n   </p>\n<pre>\n&lt;role rolename=\"{role}\"/&gt;\n&lt;user username=\"tomcat\" \
         password=\"s3cret\" roles=\"{role}\"/&gt;\n</pre>\n   <p>\n    Note that for Tomcat 7 onwards, the roles \
         required to use the manager\n    application were changed from the single <tt>manager</tt> role to the\n    \
         following four roles. You will need to assign the role(s) required for\n    the functionality you wish to \
         access.\n   </p>\n    <ul>\n      <li><tt>manager-gui</tt> - allows access to the HTML GUI and the status \
         pages</li>\n      <li><tt>manager-script</tt> - allows access to the text interface and the\n          \
         status pages</li>\n      <li><tt>manager-jmx</tt> - allows access to the JMX proxy and the status \
         pages</li>\n      <li><tt>manager-status</tt> - allows access to the status pages only</li>\n    </ul>\n \
         </body>\n\n</html>\n"
    )
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn date_of(t: SystemTime) -> (i64, u32, u32) {
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    civil_from_days((secs / 86_400) as i64)
}

/// Captured bytes as text for a page (invalid UTF-8 replaced).
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `len` random lowercase hex digits (per-connection tokens and cookies).
fn random_hex(len: usize) -> String {
    (0..len).map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;

    fn app(kind: &str) -> App {
        let settings =
            Settings::from_env(&Env::from_pairs([("NODE_NAME", "web-01"), ("FAKE_APP", kind)])).unwrap();
        App::new(&settings, pages::epoch_plus(19_700, 0))
    }

    fn exchange<'a>(method: &'a Method, path: &'a str, credentials: &'a [Credentials]) -> Exchange<'a> {
        Exchange { method, path, host: "web01", port: 80, tls: false, body: b"", credentials }
    }

    fn body(reply: &Reply) -> &str {
        std::str::from_utf8(&reply.body).unwrap()
    }

    fn header<'r>(reply: &'r Reply, name: &str) -> Option<&'r str> {
        reply.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    fn form(username: &str, password: &str) -> Vec<Credentials> {
        vec![Credentials { carrier: Carrier::Form, username: username.into(), password: password.into() }]
    }

    #[test]
    fn wordpress_routes() {
        let wp = app("wordpress");
        let home = wp.respond(&exchange(&Method::GET, "/", &[])).unwrap();
        assert!(
            body(&home)
                .contains(&format!("<meta name=\"generator\" content=\"WordPress {}\" />", wp.version))
        );
        let login = wp.respond(&exchange(&Method::GET, "/wp-login.php", &[])).unwrap();
        assert_eq!(login.status, StatusCode::OK);
        assert!(body(&login).contains("name=\"log\"") && body(&login).contains("name=\"pwd\""));
        assert!(!body(&login).contains("login_error"));

        let attempt = form("ad<min>", "x");
        let failed = wp.respond(&exchange(&Method::POST, "/wp-login.php", &attempt)).unwrap();
        assert!(body(&failed).contains("for the username <strong>ad&lt;min&gt;</strong> is incorrect"));
        assert!(body(&failed).contains("value=\"ad&lt;min&gt;\""));

        let admin = wp.respond(&exchange(&Method::GET, "/wp-admin/", &[])).unwrap();
        assert_eq!(admin.status, StatusCode::FOUND);
        assert_eq!(
            header(&admin, "location"),
            Some("http://web01/wp-login.php?redirect_to=http%3A%2F%2Fweb01%2Fwp-admin%2F&reauth=1")
        );
        let bare = wp.respond(&exchange(&Method::GET, "/wp-admin", &[])).unwrap();
        assert_eq!(header(&bare, "location"), Some("http://web01/wp-admin/"));
        assert!(wp.respond(&exchange(&Method::GET, "/nothing-here", &[])).is_none());
    }

    #[test]
    fn wordpress_xmlrpc_refuses_every_login() {
        let wp = app("wordpress");
        let get = wp.respond(&exchange(&Method::GET, "/xmlrpc.php", &[])).unwrap();
        assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body(&get), "XML-RPC server accepts POST requests only.");

        let call =
            b"<methodCall><methodName>wp.getUsersBlogs</methodName><params><param><value>a</value></param>\
                     <param><value>b</value></param></params></methodCall>";
        let attempts = credentials::xmlrpc(call);
        let post = Exchange { body: call, ..exchange(&Method::POST, "/xmlrpc.php", &attempts) };
        let reply = wp.respond(&post).unwrap();
        assert!(
            body(&reply).contains("<int>403</int>")
                && body(&reply).contains("Incorrect username or password.")
        );

        let list = b"<methodCall><methodName>system.listMethods</methodName></methodCall>";
        let post = Exchange { body: list, ..exchange(&Method::POST, "/xmlrpc.php", &[]) };
        assert!(body(&wp.respond(&post).unwrap()).contains("<string>wp.getUsersBlogs</string>"));

        let post = Exchange { body: b"junk", ..exchange(&Method::POST, "/xmlrpc.php", &[]) };
        assert!(body(&wp.respond(&post).unwrap()).contains("<int>-32700</int>"));
    }

    #[test]
    fn phpmyadmin_routes() {
        let pma = app("phpmyadmin");
        for path in ["/", "/index.php", "/phpmyadmin/", "/phpMyAdmin/index.php", "/pma/"] {
            let page = pma.respond(&exchange(&Method::GET, path, &[])).unwrap_or_else(|| panic!("{path}"));
            assert!(body(&page).contains("name=\"pma_username\""), "{path}");
            assert!(header(&page, "set-cookie").unwrap().starts_with("phpMyAdmin="));
        }
        let moved = pma.respond(&exchange(&Method::GET, "/phpmyadmin", &[])).unwrap();
        assert_eq!(header(&moved, "location"), Some("http://web01/phpmyadmin/"));

        let attempt = form("root", "");
        let failed = pma.respond(&exchange(&Method::POST, "/index.php", &attempt)).unwrap();
        assert!(
            body(&failed).contains(
                "Access denied for user &#039;root&#039;@&#039;localhost&#039; (using password: NO)"
            )
        );
        assert!(pma.respond(&exchange(&Method::GET, "/setup/", &[])).is_none());
    }

    #[test]
    fn tomcat_routes() {
        let tomcat = app("tomcat");
        let home = tomcat.respond(&exchange(&Method::GET, "/", &[])).unwrap();
        assert!(body(&home).contains(&format!("<title>Apache Tomcat/{}</title>", tomcat.version)));
        assert_eq!(home.reason, Some(""));

        let manager = tomcat.respond(&exchange(&Method::GET, "/manager/html", &[])).unwrap();
        assert_eq!(manager.status, StatusCode::UNAUTHORIZED);
        assert_eq!(header(&manager, "www-authenticate"), Some("Basic realm=\"Tomcat Manager Application\""));
        assert!(body(&manager).contains("&lt;role rolename=\"manager-gui\"/&gt;"));
        let host_manager = tomcat.respond(&exchange(&Method::GET, "/host-manager/html", &[])).unwrap();
        assert_eq!(
            header(&host_manager, "www-authenticate"),
            Some("Basic realm=\"Tomcat Host Manager Application\"")
        );

        let redirect = tomcat.respond(&exchange(&Method::GET, "/manager/", &[])).unwrap();
        assert_eq!(header(&redirect, "location"), Some("http://web01/manager/html"));
        let missing = tomcat.respond(&exchange(&Method::GET, "/nope", &[])).unwrap();
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(body(&missing).contains("HTTP Status 404"));
        let put = tomcat.respond(&exchange(&Method::PUT, "/x.jsp", &[])).unwrap();
        assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn jenkins_routes() {
        let jenkins = app("jenkins");
        assert_eq!(jenkins.own_server(), Some(Some(format!("Jetty({})", jenkins.jetty))));
        let login = jenkins.respond(&exchange(&Method::GET, "/login", &[])).unwrap();
        assert!(
            body(&login).contains("name=\"j_username\"")
                && body(&login).contains("<title>Sign in [Jenkins]</title>")
        );
        assert_eq!(header(&login, "x-jenkins"), Some(jenkins.version));

        let post =
            jenkins.respond(&exchange(&Method::POST, "/j_spring_security_check", &form("a", "b"))).unwrap();
        assert_eq!(post.status, StatusCode::FOUND);
        assert_eq!(header(&post, "location"), Some("http://web01/loginError"));
        let error = jenkins.respond(&exchange(&Method::GET, "/loginError", &[])).unwrap();
        assert!(body(&error).contains("Invalid username or password"));

        let root = jenkins.respond(&exchange(&Method::GET, "/script", &[])).unwrap();
        assert_eq!(root.status, StatusCode::FORBIDDEN);
        assert!(body(&root).contains("url=/login?from=%2Fscript"));
        assert_eq!(header(&root, "x-you-are-authenticated-as"), Some("anonymous"));

        let basic =
            [Credentials { carrier: Carrier::Basic, username: b"admin".to_vec(), password: b"x".to_vec() }];
        let api = jenkins.respond(&exchange(&Method::GET, "/api/json", &basic)).unwrap();
        assert_eq!(api.status, StatusCode::UNAUTHORIZED);
        assert!(body(&api).contains("Invalid password/token for user: admin"));
    }

    #[test]
    fn no_app_leaves_everything_to_the_server() {
        assert!(app("none").respond(&exchange(&Method::GET, "/", &[])).is_none());
        assert_eq!(app("none").own_server(), None);
        assert_eq!(app("tomcat").own_server(), Some(None));
    }
}
