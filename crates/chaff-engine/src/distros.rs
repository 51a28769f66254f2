//! Distros: the Linux persona of a decky (what its hostname looks like, what its banners
//! claim). A distro is only a persona: every decky runs Chaff's own base image whatever its
//! distro, so there are no image references here.

use serde::Serialize;

/// How a distro's hosts are usually named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HostnameStyle {
    /// `SRV-<WORD>-<NN>` (Debian, Ubuntu: a corporate naming scheme).
    Generic,
    /// `<word><NN>.localdomain` (the RHEL installer's default domain).
    Rhel,
    /// `<word>-<NN>` (Alpine: short names).
    Minimal,
    /// `<word>-<word>` (rolling releases: hobbyist names, no number).
    Rolling,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Distro {
    pub slug: &'static str,
    pub display_name: &'static str,
    pub hostname_style: HostnameStyle,
}

/// The nine distros in the original's table order; round-robin assignment follows this order.
pub const DISTROS: [Distro; 9] = [
    Distro { slug: "debian", display_name: "Debian 12 (Bookworm)", hostname_style: HostnameStyle::Generic },
    Distro {
        slug: "ubuntu22",
        display_name: "Ubuntu 22.04 LTS (Jammy)",
        hostname_style: HostnameStyle::Generic,
    },
    Distro {
        slug: "ubuntu20",
        display_name: "Ubuntu 20.04 LTS (Focal)",
        hostname_style: HostnameStyle::Generic,
    },
    Distro { slug: "rocky9", display_name: "Rocky Linux 9", hostname_style: HostnameStyle::Rhel },
    Distro { slug: "centos7", display_name: "CentOS 7", hostname_style: HostnameStyle::Rhel },
    Distro { slug: "alpine", display_name: "Alpine Linux 3.19", hostname_style: HostnameStyle::Minimal },
    Distro { slug: "fedora", display_name: "Fedora 39", hostname_style: HostnameStyle::Rhel },
    Distro { slug: "kali", display_name: "Kali Linux (Rolling)", hostname_style: HostnameStyle::Rolling },
    Distro { slug: "arch", display_name: "Arch Linux", hostname_style: HostnameStyle::Rolling },
];

/// The words hostnames are made of.
pub const HOSTNAME_WORDS: [&str; 25] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo",
    "lima", "mike", "nova", "oscar", "prod", "web", "db", "mail", "proxy", "dev", "stage", "backup",
    "monitor", "files",
];

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Unknown distro '{slug}'. Available: {}", available_distros().join(", "))]
pub struct UnknownDistro {
    pub slug: String,
}

pub fn distro(slug: &str) -> Result<&'static Distro, UnknownDistro> {
    DISTROS.iter().find(|d| d.slug == slug).ok_or_else(|| UnknownDistro { slug: slug.to_owned() })
}

/// Every distro slug, sorted.
pub fn available_distros() -> Vec<&'static str> {
    let mut slugs: Vec<_> = DISTROS.iter().map(|d| d.slug).collect();
    slugs.sort_unstable();
    slugs
}

/// A plausible hostname in `style`: one or two words from `HOSTNAME_WORDS` and, except for
/// `Rolling`, a number in 10..=99.
pub fn random_hostname(style: HostnameStyle, rng: &mut fastrand::Rng) -> String {
    let word = pick_word(rng);
    match style {
        HostnameStyle::Generic => format!("SRV-{}-{}", word.to_uppercase(), rng.u8(10..=99)),
        HostnameStyle::Rhel => format!("{word}{}.localdomain", rng.u8(10..=99)),
        HostnameStyle::Minimal => format!("{word}-{}", rng.u8(10..=99)),
        HostnameStyle::Rolling => format!("{word}-{}", pick_word(rng)),
    }
}

fn pick_word(rng: &mut fastrand::Rng) -> &'static str {
    HOSTNAME_WORDS[rng.usize(..HOSTNAME_WORDS.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_distros_in_table_order() {
        let slugs: Vec<_> = DISTROS.iter().map(|d| d.slug).collect();
        assert_eq!(
            slugs,
            ["debian", "ubuntu22", "ubuntu20", "rocky9", "centos7", "alpine", "fedora", "kali", "arch"]
        );
        assert_eq!(distro("rocky9").unwrap().display_name, "Rocky Linux 9");
        assert_eq!(distro("alpine").unwrap().hostname_style, HostnameStyle::Minimal);
        assert_eq!(distro("arch").unwrap().hostname_style, HostnameStyle::Rolling);
    }

    #[test]
    fn unknown_distro_lists_sorted_slugs() {
        assert_eq!(
            distro("gentoo").unwrap_err().to_string(),
            "Unknown distro 'gentoo'. Available: alpine, arch, centos7, debian, fedora, kali, rocky9, ubuntu20, ubuntu22"
        );
    }

    fn number_in_range(text: &str) -> bool {
        text.len() == 2 && text.parse::<u8>().is_ok_and(|n| (10..=99).contains(&n))
    }

    #[test]
    fn hostnames_follow_their_style() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..200 {
            let generic = random_hostname(HostnameStyle::Generic, &mut rng);
            let parts: Vec<_> = generic.split('-').collect();
            assert_eq!(parts.len(), 3, "{generic}");
            assert_eq!(parts[0], "SRV");
            assert!(HOSTNAME_WORDS.contains(&parts[1].to_lowercase().as_str()), "{generic}");
            assert_eq!(parts[1], parts[1].to_uppercase());
            assert!(number_in_range(parts[2]), "{generic}");

            let rhel = random_hostname(HostnameStyle::Rhel, &mut rng);
            let stem = rhel.strip_suffix(".localdomain").expect("rhel suffix");
            let (word, number) = stem.split_at(stem.len() - 2);
            assert!(HOSTNAME_WORDS.contains(&word) && number_in_range(number), "{rhel}");

            let minimal = random_hostname(HostnameStyle::Minimal, &mut rng);
            let (word, number) = minimal.split_once('-').unwrap();
            assert!(HOSTNAME_WORDS.contains(&word) && number_in_range(number), "{minimal}");

            let rolling = random_hostname(HostnameStyle::Rolling, &mut rng);
            let (first, second) = rolling.split_once('-').unwrap();
            assert!(HOSTNAME_WORDS.contains(&first) && HOSTNAME_WORDS.contains(&second), "{rolling}");
        }
    }

    #[test]
    fn same_seed_same_hostname() {
        let a = random_hostname(HostnameStyle::Generic, &mut fastrand::Rng::with_seed(42));
        let b = random_hostname(HostnameStyle::Generic, &mut fastrand::Rng::with_seed(42));
        assert_eq!(a, b);
    }
}
