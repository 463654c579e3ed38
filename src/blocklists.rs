//! The blocklists this service queries: the catalogue (built in, plus
//! `SECWORKS_BLOCKLISTS_FILE`), which of its lists are enabled (`SECWORKS_BLOCKLISTS`), each
//! one's account key and daily budget. The one place that decides which lists a target is
//! asked of.

use std::collections::HashMap;

use secworks_dnsbl::{
    Blocklist, Catalogue, CatalogueError, DEFAULT_ENABLED, KEY_PLACEHOLDER, ListKey, ListKind,
    Target, Zone,
};
use secworks_store_api::{NewJob, TargetKind};

/// How the enabled set is chosen; see the README's configuration table.
#[derive(Debug, Clone, Default)]
pub struct BlocklistSettings {
    /// `SECWORKS_BLOCKLISTS`: comma-separated ids; `None` for the default (ZEN only).
    pub enabled: Option<String>,
    /// `SECWORKS_BLOCKLISTS_FILE`: entries added to or replacing built-in ones.
    pub file: Option<std::path::PathBuf>,
    /// `SECWORKS_DNSBL_ZONE`: ZEN's zone, for mirrors and tests.
    pub zen_zone: Option<String>,
    /// `SECWORKS_DQS_KEY`: the Spamhaus account key, for the lists that take one.
    pub dqs_key: Option<String>,
    /// `SECWORKS_DAILY_BUDGETS`: `id=queries` or `id=none` pairs that replace a list's
    /// free-use limit as its budget.
    pub budgets: Option<String>,
}

/// The catalogue with the enabled lists, their keys and budgets.
#[derive(Debug, Clone)]
pub struct Blocklists {
    lists: Vec<Blocklist>,
    /// Indexes into `lists`, in catalogue order.
    enabled: Vec<usize>,
    key: Option<ListKey>,
    budgets: HashMap<String, Option<u64>>,
}

/// A setting that names no usable blocklist set; each names the variable to change.
#[derive(Debug, thiserror::Error)]
pub enum BlocklistError {
    #[error("SECWORKS_BLOCKLISTS_FILE: {0}")]
    File(CatalogueError),
    #[error("built-in blocklist catalogue: {0}")]
    Builtin(CatalogueError),
    #[error("SECWORKS_BLOCKLISTS: {0}")]
    Selection(CatalogueError),
    #[error("SECWORKS_DNSBL_ZONE: {0}")]
    Zone(String),
    #[error("SECWORKS_DQS_KEY: invalid key (not shown): {0}")]
    Key(String),
    #[error(
        "SECWORKS_BLOCKLISTS enables {0}, which needs an account key: set SECWORKS_DQS_KEY or \
         remove it from SECWORKS_BLOCKLISTS"
    )]
    KeyRequired(String),
    #[error("SECWORKS_DAILY_BUDGETS: {0}")]
    Budget(String),
}

impl Blocklists {
    pub fn new(settings: &BlocklistSettings) -> Result<Self, BlocklistError> {
        let catalogue = match &settings.file {
            // The built-in part is checked by its own tests; what fails here is the file.
            Some(path) => Catalogue::with_file(path).map_err(BlocklistError::File)?,
            None => Catalogue::builtin().map_err(BlocklistError::Builtin)?,
        };
        let selected: Vec<String> = match &settings.enabled {
            Some(ids) => catalogue.select(ids),
            None => catalogue.default_selection(),
        }
        .map_err(BlocklistError::Selection)?
        .into_iter()
        .map(|list| list.id.clone())
        .collect();
        let key = settings
            .dqs_key
            .as_deref()
            .map(ListKey::new)
            .transpose()
            .map_err(|problem| BlocklistError::Key(problem.to_string()))?;
        let mut lists = catalogue.lists().to_vec();
        if let Some(zone) = &settings.zen_zone
            && let Some(zen) = lists.iter_mut().find(|list| list.id == DEFAULT_ENABLED)
            && zone != &zen.zone
        {
            // Checked as any zone is; the key, when set, still selects the keyed zone.
            Zone::standard(zone).map_err(|e| BlocklistError::Zone(e.to_string()))?;
            zen.zone.clone_from(zone);
        }
        let enabled: Vec<usize> = lists
            .iter()
            .enumerate()
            .filter(|(_, list)| selected.contains(&list.id))
            .map(|(index, _)| index)
            .collect();
        for &index in &enabled {
            let list = &lists[index];
            if list.needs_key() && key.is_none() {
                return Err(BlocklistError::KeyRequired(list.id.clone()));
            }
        }
        let budgets = match &settings.budgets {
            Some(text) => parse_budgets(text, &lists)?,
            None => HashMap::new(),
        };
        Ok(Self {
            lists,
            enabled,
            key,
            budgets,
        })
    }

    /// ZEN alone, as a fresh install has it, with ZEN's zone set to `zone`.
    pub fn zen_at(zone: &str) -> Result<Self, BlocklistError> {
        Self::new(&BlocklistSettings {
            zen_zone: Some(zone.to_owned()),
            ..BlocklistSettings::default()
        })
    }

    /// Every list of the catalogue, enabled or not, in catalogue order.
    pub fn catalogue(&self) -> &[Blocklist] {
        &self.lists
    }

    /// The enabled lists, in catalogue order.
    pub fn enabled(&self) -> impl Iterator<Item = &Blocklist> + '_ {
        self.enabled.iter().map(|&index| &self.lists[index])
    }

    pub fn is_enabled(&self, id: &str) -> bool {
        self.enabled().any(|list| list.id == id)
    }

    /// The list with this id, enabled or not.
    pub fn get(&self, id: &str) -> Option<&Blocklist> {
        self.lists.iter().find(|list| list.id == id)
    }

    /// The account key for `list`, if it takes one and one is configured.
    pub fn key(&self, list: &Blocklist) -> Option<&ListKey> {
        let takes_key = list.keyed_zone.is_some() || list.needs_key();
        self.key.as_ref().filter(|_| takes_key)
    }

    /// The zone as queried, with the key shown as `<key>`.
    pub fn shown_zone(&self, list: &Blocklist) -> String {
        let template = match (self.key(list), &list.keyed_zone) {
            (Some(_), Some(keyed)) => keyed,
            _ => &list.zone,
        };
        template.replace(KEY_PLACEHOLDER, "<key>")
    }

    /// The most queries a UTC day `list` is sent: `SECWORKS_DAILY_BUDGETS`, else its
    /// documented free-use limit less [`HEADROOM_PERCENT`], else none.
    pub fn daily_budget(&self, list: &Blocklist) -> Option<u64> {
        match self.budgets.get(&list.id) {
            Some(budget) => *budget,
            None => list
                .free_queries_per_day
                .map(|limit| limit - limit * HEADROOM_PERCENT / 100),
        }
    }

    /// The kinds of target `list` answers for: an IP list the address families it takes, a
    /// domain list domains.
    pub fn kinds(list: &Blocklist) -> Vec<TargetKind> {
        match list.kind {
            ListKind::Ip => [(list.ipv4, TargetKind::Ipv4), (list.ipv6, TargetKind::Ipv6)]
                .into_iter()
                .filter_map(|(takes, kind)| takes.then_some(kind))
                .collect(),
            ListKind::Domain => vec![TargetKind::Domain],
        }
    }

    /// Whether `list` answers for `target`.
    pub fn fits(list: &Blocklist, target: &Target) -> bool {
        Self::kinds(list).contains(&TargetKind::of(target))
    }

    /// The enabled lists that answer for `target`, in catalogue order.
    pub fn for_target<'a>(&'a self, target: &'a Target) -> impl Iterator<Item = &'a Blocklist> {
        self.enabled().filter(|list| Self::fits(list, target))
    }

    /// One job per target and enabled list that answers for it.
    pub fn jobs(&self, targets: impl IntoIterator<Item = Target>) -> Vec<NewJob> {
        let mut jobs = Vec::new();
        for target in targets {
            for list in self.for_target(&target) {
                jobs.push(NewJob {
                    target: target.clone(),
                    blocklist: list.id.clone(),
                });
            }
        }
        jobs
    }
}

/// What a default budget keeps back of a list's free-use limit: replicas may overshoot
/// together by what they send between two syncs of the shared count, and the operator counts
/// what reaches it, resolver retries included.
pub const HEADROOM_PERCENT: u64 = 10;

/// Reads `id=queries` / `id=none` pairs, naming the bad pair.
fn parse_budgets(
    text: &str,
    lists: &[Blocklist],
) -> Result<HashMap<String, Option<u64>>, BlocklistError> {
    let mut budgets = HashMap::new();
    for pair in text
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
    {
        let Some((id, value)) = pair.split_once('=') else {
            return Err(BlocklistError::Budget(format!(
                "{pair:?} is not id=queries (e.g. spamcop=50000 or spamcop=none)"
            )));
        };
        let (id, value) = (id.trim(), value.trim());
        if !lists.iter().any(|list| list.id == id) {
            return Err(BlocklistError::Budget(format!("unknown blocklist {id:?}")));
        }
        let budget = match value {
            "none" => None,
            _ => Some(value.parse::<u64>().map_err(|_| {
                BlocklistError::Budget(format!(
                    "{pair:?}: the budget must be a whole number of queries or `none`"
                ))
            })?),
        };
        budgets.insert(id.to_owned(), budget);
    }
    Ok(budgets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(settings: BlocklistSettings) -> Result<Blocklists, BlocklistError> {
        Blocklists::new(&settings)
    }

    fn ids<'a>(lists: impl Iterator<Item = &'a Blocklist>) -> Vec<&'a str> {
        lists.map(|list| list.id.as_str()).collect()
    }

    #[test]
    fn zen_alone_by_default() {
        let lists = with(BlocklistSettings::default()).unwrap();
        assert_eq!(ids(lists.enabled()), ["spamhaus-zen"]);
        assert!(lists.catalogue().len() >= 11);
    }

    #[test]
    fn lists_fit_targets_by_kind_and_family_in_catalogue_order() {
        let lists = with(BlocklistSettings {
            enabled: Some("uribl, spamcop,spamhaus-dbl,spamhaus-zen".into()),
            ..BlocklistSettings::default()
        })
        .unwrap();
        let v4 = Target::parse("192.0.2.1").unwrap();
        let v6 = Target::parse("2001:db8::1").unwrap();
        let domain = Target::parse("example.com").unwrap();
        assert_eq!(ids(lists.for_target(&v4)), ["spamhaus-zen", "spamcop"]);
        assert_eq!(ids(lists.for_target(&v6)), ["spamhaus-zen"]);
        assert_eq!(ids(lists.for_target(&domain)), ["spamhaus-dbl", "uribl"]);
        let jobs = lists.jobs([v4, domain]);
        assert_eq!(jobs.len(), 4);
    }

    #[test]
    fn settings_errors_name_the_variable() {
        let unknown = with(BlocklistSettings {
            enabled: Some("spamhaus-zen,sorbs".into()),
            ..BlocklistSettings::default()
        })
        .unwrap_err()
        .to_string();
        assert!(unknown.starts_with("SECWORKS_BLOCKLISTS: unknown blocklist \"sorbs\""));
        let keyless = with(BlocklistSettings {
            enabled: Some("spamhaus-zrd".into()),
            ..BlocklistSettings::default()
        })
        .unwrap_err()
        .to_string();
        assert!(keyless.contains("SECWORKS_DQS_KEY"), "{keyless}");
        let budget = with(BlocklistSettings {
            budgets: Some("spamcop=lots".into()),
            ..BlocklistSettings::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            budget.starts_with("SECWORKS_DAILY_BUDGETS: \"spamcop=lots\""),
            "{budget}"
        );
        let zone = with(BlocklistSettings {
            zen_zone: Some("bad..zone".into()),
            ..BlocklistSettings::default()
        })
        .unwrap_err()
        .to_string();
        assert!(zone.starts_with("SECWORKS_DNSBL_ZONE: "), "{zone}");
    }

    #[test]
    fn zen_zone_key_and_budgets_apply() {
        let lists = with(BlocklistSettings {
            enabled: Some("spamhaus-zen,spamhaus-zrd,spamcop".into()),
            zen_zone: Some("zen.mirror.example".into()),
            dqs_key: Some("secretkey".into()),
            budgets: Some("spamcop=10, spamhaus-zen=none".into()),
            ..BlocklistSettings::default()
        })
        .unwrap();
        let zen = lists.get("spamhaus-zen").unwrap();
        let zrd = lists.get("spamhaus-zrd").unwrap();
        let spamcop = lists.get("spamcop").unwrap();
        assert_eq!(zen.zone, "zen.mirror.example");
        assert_eq!(lists.shown_zone(zrd), "<key>.zrd.dq.spamhaus.net");
        assert!(lists.key(spamcop).is_none());
        assert_eq!(lists.daily_budget(spamcop), Some(10));
        assert_eq!(lists.daily_budget(zen), None);
        let mailspike = lists.get("mailspike").unwrap();
        // Its free-use limit, 100,000, less the headroom.
        assert_eq!(mailspike.free_queries_per_day, Some(100_000));
        assert_eq!(lists.daily_budget(mailspike), Some(90_000));
    }
}
