//! Reading an answer with a catalogue entry, by the one rule that holds for every list:
//! only answers inside the list's documented range are listings; anything else is an error.

use std::net::Ipv4Addr;

use thiserror::Error;

use crate::catalogue::{Blocklist, Decoding, ErrorAnswerKind, ErrorMeaning};
use crate::classify::Answer;

/// What a list said about a query, decoded with its catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListOutcome {
    /// Listed, once per documented code or bit, in answer order (codes sorted numerically).
    /// Never empty.
    Listed(Vec<ListListing>),
    /// NXDOMAIN.
    NotListed,
}

/// One listing: the A record it came from and what the list says it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListListing {
    /// The A record.
    pub code: Ipv4Addr,
    /// The list's short name for it (`SBL`, `PH`).
    pub name: String,
    /// What it means.
    pub meaning: String,
}

/// An answer that is not a trustworthy listing or "not listed". Names the list, and never a
/// query name (which may hold a key).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ListError {
    /// The list answered with a documented error code or bit.
    #[error("blocklist {list} answered with an error: {name}, {meaning} ({code})")]
    ErrorAnswer {
        /// The list id.
        list: String,
        /// The A record that carried it.
        code: Ipv4Addr,
        /// What kind of failure.
        kind: ErrorAnswerKind,
        /// The list's name for it.
        name: String,
        /// What the list says it means.
        meaning: String,
    },
    /// An A record outside 127.0.0.0/8, which no blocklist answer uses (RFC 5782 §2.3):
    /// typically a resolver that rewrites failed lookups to an advertising page.
    #[error(
        "blocklist {list} answered {code}, which is outside 127.0.0.0/8, so it is not a \
         blocklist answer"
    )]
    NotLoopback {
        /// The list id.
        list: String,
        /// The first such record.
        code: Ipv4Addr,
    },
    /// An A record in 127.0.0.0/8 the list does not document as a listing (exact-code
    /// lists).
    #[error("blocklist {list} answered {code}, which it does not document as a listing")]
    UndocumentedCode {
        /// The list id.
        list: String,
        /// The first such record.
        code: Ipv4Addr,
    },
    /// A bit-mask answer with no documented bit set.
    #[error("blocklist {list} answered {code}, which has no documented bit set")]
    NoDocumentedBit {
        /// The list id.
        list: String,
        /// The first such record.
        code: Ipv4Addr,
    },
    /// NOERROR without A records: lists answer NXDOMAIN for "not listed".
    #[error("blocklist {list} answered without A records (NODATA)")]
    NoData {
        /// The list id.
        list: String,
    },
}

impl ListError {
    /// The list said we send too many queries (Spamhaus 127.255.255.255): slow the whole
    /// queue down, not just this query.
    pub fn is_rate_limited(&self) -> bool {
        self.error_kind() == Some(ErrorAnswerKind::RateLimited)
    }

    /// The kind of a documented error answer.
    pub fn error_kind(&self) -> Option<ErrorAnswerKind> {
        match self {
            Self::ErrorAnswer { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

impl Blocklist {
    /// Reads an answer with this list's documented codes or bits.
    ///
    /// * NXDOMAIN → [`ListOutcome::NotListed`]; no records → [`ListError::NoData`].
    /// * A documented error anywhere in the answer → [`ListError::ErrorAnswer`], even beside
    ///   listings; rate limiting ranks first so that it is never hidden.
    /// * Exact codes: every record must be a documented listing code.
    /// * A record outside 127.0.0.0/8 → [`ListError::NotLoopback`].
    /// * Bit masks: undocumented bits are ignored;
    ///   a record with no documented bit is an error.
    pub fn decode(&self, answer: Answer) -> Result<ListOutcome, ListError> {
        let mut codes = match answer {
            Answer::NxDomain => return Ok(ListOutcome::NotListed),
            Answer::Records(codes) => codes,
        };
        if codes.is_empty() {
            return Err(ListError::NoData {
                list: self.id.clone(),
            });
        }
        codes.sort_unstable();
        codes.dedup();
        if let Some(&code) = codes.iter().find(|code| !code.is_loopback()) {
            return Err(ListError::NotLoopback {
                list: self.id.clone(),
                code,
            });
        }
        match &self.decoding {
            Decoding::Codes { listings, errors } => {
                let found = codes.iter().filter_map(|&code| {
                    errors
                        .iter()
                        .find(|error| error.value == code)
                        .map(|error| (code, error))
                });
                if let Some(error) = self.worst(found) {
                    return Err(error);
                }
                codes
                    .iter()
                    .map(|&code| {
                        listings
                            .iter()
                            .find(|listing| listing.value == code)
                            .map(|listing| ListListing {
                                code,
                                name: listing.name.clone(),
                                meaning: listing.meaning.clone(),
                            })
                            .ok_or_else(|| ListError::UndocumentedCode {
                                list: self.id.clone(),
                                code,
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(ListOutcome::Listed)
            }
            Decoding::Bits { bits, errors } => {
                let found = codes.iter().flat_map(|&code| {
                    errors
                        .iter()
                        .filter(move |error| code.octets()[3] & error.value != 0)
                        .map(move |error| (code, error))
                });
                if let Some(error) = self.worst(found) {
                    return Err(error);
                }
                let mut listed = Vec::new();
                for &code in &codes {
                    let set: Vec<_> = bits
                        .iter()
                        .filter(|bit| code.octets()[3] & bit.value != 0)
                        .collect();
                    if set.is_empty() {
                        return Err(ListError::NoDocumentedBit {
                            list: self.id.clone(),
                            code,
                        });
                    }
                    listed.extend(set.into_iter().map(|bit| ListListing {
                        code,
                        name: bit.name.clone(),
                        meaning: bit.meaning.clone(),
                    }));
                }
                Ok(ListOutcome::Listed(listed))
            }
        }
    }

    /// The error to report among several: rate limiting first, then the first found.
    fn worst<'a, T: 'a>(
        &self,
        found: impl Iterator<Item = (Ipv4Addr, &'a ErrorMeaning<T>)>,
    ) -> Option<ListError> {
        let mut chosen: Option<(Ipv4Addr, &ErrorMeaning<T>)> = None;
        for (code, error) in found {
            let better = match chosen {
                None => true,
                Some((_, current)) => {
                    error.kind == ErrorAnswerKind::RateLimited
                        && current.kind != ErrorAnswerKind::RateLimited
                }
            };
            if better {
                chosen = Some((code, error));
            }
        }
        chosen.map(|(code, error)| ListError::ErrorAnswer {
            list: self.id.clone(),
            code,
            kind: error.kind,
            name: error.name.clone(),
            meaning: error.meaning.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn list(id: &str) -> Blocklist {
        Catalogue::builtin().unwrap().get(id).unwrap().clone()
    }

    fn records(codes: &[[u8; 4]]) -> Answer {
        Answer::Records(codes.iter().map(|&o| Ipv4Addr::from(o)).collect())
    }

    fn listing(code: [u8; 4], name: &str, meaning: &str) -> ListListing {
        ListListing {
            code: code.into(),
            name: name.into(),
            meaning: meaning.into(),
        }
    }

    fn error_answer(list: &str, code: [u8; 4], kind: ErrorAnswerKind, name: &str) -> ListError {
        // The meaning the catalogue gives the error of that name.
        let meaning = match self::list(list).decoding {
            Decoding::Codes { errors, .. } => errors
                .into_iter()
                .find(|e| e.name == name)
                .map(|e| e.meaning),
            Decoding::Bits { errors, .. } => errors
                .into_iter()
                .find(|e| e.name == name)
                .map(|e| e.meaning),
        }
        .unwrap_or_default();
        ListError::ErrorAnswer {
            list: list.into(),
            code: code.into(),
            kind,
            name: name.into(),
            meaning,
        }
    }

    fn undocumented(list: &str, code: [u8; 4]) -> ListError {
        ListError::UndocumentedCode {
            list: list.into(),
            code: code.into(),
        }
    }

    /// Every documented listing of every exact-code list decodes to itself, alone.
    #[test]
    fn every_documented_code_is_its_listing() {
        for list in Catalogue::builtin().unwrap().lists() {
            if let Decoding::Codes { listings, .. } = &list.decoding {
                for l in listings {
                    assert_eq!(
                        list.decode(Answer::Records(vec![l.value])),
                        Ok(ListOutcome::Listed(vec![ListListing {
                            code: l.value,
                            name: l.name.clone(),
                            meaning: l.meaning.clone(),
                        }])),
                        "{} {}",
                        list.id,
                        l.value
                    );
                }
            }
        }
    }

    #[test]
    fn nxdomain_is_not_listed_and_nodata_is_an_error() {
        for list in Catalogue::builtin().unwrap().lists() {
            assert_eq!(list.decode(Answer::NxDomain), Ok(ListOutcome::NotListed));
            assert_eq!(
                list.decode(records(&[])),
                Err(ListError::NoData {
                    list: list.id.clone()
                })
            );
        }
    }

    #[test]
    fn zen_codes_sorted_and_named() {
        assert_eq!(
            list("spamhaus-zen").decode(records(&[
                [127, 0, 0, 10],
                [127, 0, 0, 2],
                [127, 0, 0, 2]
            ])),
            Ok(ListOutcome::Listed(vec![
                listing(
                    [127, 0, 0, 2],
                    "SBL",
                    "Spamhaus Block List: direct spam sources and spam operations"
                ),
                listing(
                    [127, 0, 0, 10],
                    "PBL",
                    "Policy Block List, ISP-maintained: should not send mail directly"
                ),
            ]))
        );
    }

    #[test]
    fn spamhaus_error_codes_are_errors_even_beside_listings() {
        use ErrorAnswerKind::*;
        let cases = [
            (250, KeyRejected, "DQS key disabled"),
            (251, KeyRejected, "DQS key not accepted"),
            (252, Misconfigured, "zone typo"),
            (254, ResolverBlocked, "public resolver"),
            (255, RateLimited, "excessive queries"),
        ];
        for id in [
            "spamhaus-zen",
            "spamhaus-dbl",
            "spamhaus-zrd",
            "spamhaus-authbl",
        ] {
            let list = list(id);
            for (last, kind, name) in cases {
                let code = [127, 255, 255, last];
                let expected = Err(error_answer(id, code, kind, name));
                assert_eq!(list.decode(records(&[code])), expected, "{id} {last}");
                assert_eq!(
                    list.decode(records(&[[127, 0, 0, 2], [127, 0, 1, 2], code])),
                    expected,
                    "{id} {last} beside a listing"
                );
            }
            // An undocumented code in the error range is still not a listing.
            assert_eq!(
                list.decode(records(&[[127, 255, 255, 7]])),
                Err(undocumented(id, [127, 255, 255, 7]))
            );
        }
    }

    #[test]
    fn rate_limiting_wins_and_is_reported_as_such() {
        let result = list("spamhaus-zen").decode(records(&[
            [127, 255, 255, 252],
            [127, 255, 255, 255],
            [127, 255, 255, 254],
        ]));
        assert_eq!(
            result,
            Err(error_answer(
                "spamhaus-zen",
                [127, 255, 255, 255],
                ErrorAnswerKind::RateLimited,
                "excessive queries"
            ))
        );
        assert!(result.unwrap_err().is_rate_limited());
        let other = list("spamhaus-zen")
            .decode(records(&[[127, 255, 255, 254]]))
            .unwrap_err();
        assert!(!other.is_rate_limited());
        assert_eq!(other.error_kind(), Some(ErrorAnswerKind::ResolverBlocked));
    }

    #[test]
    fn dbl_ip_query_answer_is_an_error() {
        assert_eq!(
            list("spamhaus-dbl").decode(records(&[[127, 0, 1, 255]])),
            Err(error_answer(
                "spamhaus-dbl",
                [127, 0, 1, 255],
                ErrorAnswerKind::Misconfigured,
                "IP query"
            ))
        );
    }

    #[test]
    fn codes_of_another_list_are_not_listings() {
        // A ZEN code from the DBL, a DBL code from ZEN, an IP-list code from ZRD.
        assert_eq!(
            list("spamhaus-dbl").decode(records(&[[127, 0, 0, 2]])),
            Err(undocumented("spamhaus-dbl", [127, 0, 0, 2]))
        );
        assert_eq!(
            list("spamhaus-zen").decode(records(&[[127, 0, 0, 2], [127, 0, 1, 2]])),
            Err(undocumented("spamhaus-zen", [127, 0, 1, 2]))
        );
        assert_eq!(
            list("spamhaus-zrd").decode(records(&[[127, 0, 2, 25]])),
            Err(undocumented("spamhaus-zrd", [127, 0, 2, 25]))
        );
        assert_eq!(
            list("spamhaus-zrd").decode(records(&[[127, 0, 2, 2]])),
            Ok(ListOutcome::Listed(vec![listing(
                [127, 0, 2, 2],
                "ZRD 2h",
                "domain first seen between 0 and 2 hours ago"
            )]))
        );
    }

    #[test]
    fn single_code_lists_take_only_their_code() {
        for id in ["spamcop", "barracuda", "psbl", "uceprotect-1", "mailspike"] {
            let list = list(id);
            assert!(matches!(
                list.decode(records(&[[127, 0, 0, 2]])),
                Ok(ListOutcome::Listed(_))
            ));
            assert_eq!(
                list.decode(records(&[[192, 0, 2, 1]])),
                Err(ListError::NotLoopback {
                    list: id.into(),
                    code: Ipv4Addr::new(192, 0, 2, 1)
                }),
                "{id}"
            );
            for code in [[127, 0, 0, 1], [127, 0, 0, 3], [127, 255, 255, 255]] {
                assert_eq!(
                    list.decode(records(&[code])),
                    Err(undocumented(id, code)),
                    "{id}"
                );
            }
        }
    }

    #[test]
    fn mailspike_bl_carries_only_the_bad_reputation_levels() {
        let mailspike = list("mailspike");
        assert_eq!(
            mailspike.decode(records(&[[127, 0, 0, 10]])),
            Ok(ListOutcome::Listed(vec![listing(
                [127, 0, 0, 10],
                "L5",
                "worst possible reputation"
            )]))
        );
        // L2 and L1 live on rep.mailspike.net, not on bl.
        for last in [13, 14] {
            assert_eq!(
                mailspike.decode(records(&[[127, 0, 0, last]])),
                Err(undocumented("mailspike", [127, 0, 0, last]))
            );
        }
    }

    #[test]
    fn surbl_bits_decode_to_each_sub_list() {
        // 8 + 16 + 64 = 88, plus undocumented bit 2, which is ignored.
        assert_eq!(
            list("surbl").decode(records(&[[127, 0, 0, 90]])),
            Ok(ListOutcome::Listed(vec![
                listing([127, 0, 0, 90], "PH", "phishing site"),
                listing([127, 0, 0, 90], "MW", "malware site"),
                listing([127, 0, 0, 90], "ABUSE", "spam and abuse site"),
            ]))
        );
        // The middle octets are reserved and ignored.
        assert_eq!(
            list("surbl").decode(records(&[[127, 9, 9, 128]])),
            Ok(ListOutcome::Listed(vec![listing(
                [127, 9, 9, 128],
                "CR",
                "cracked site"
            )]))
        );
    }

    #[test]
    fn uribl_bits_decode_to_each_sub_list() {
        assert_eq!(
            list("uribl").decode(records(&[[127, 0, 0, 14]])),
            Ok(ListOutcome::Listed(vec![
                listing([127, 0, 0, 14], "black", "domain used by spammers"),
                listing(
                    [127, 0, 0, 14],
                    "grey",
                    "bulk-mail domain that may honour opt-out"
                ),
                listing(
                    [127, 0, 0, 14],
                    "red",
                    "very young or privacy-protected domain seen in mail flow"
                ),
            ]))
        );
    }

    #[test]
    fn the_blocked_bit_is_an_error_even_with_listing_bits() {
        for (id, name) in [("surbl", "blocked"), ("uribl", "query refused")] {
            let list = list(id);
            for code in [[127, 0, 0, 1], [127, 0, 0, 11]] {
                assert_eq!(
                    list.decode(records(&[code])),
                    Err(error_answer(
                        id,
                        code,
                        ErrorAnswerKind::ResolverBlocked,
                        name
                    )),
                    "{id}"
                );
            }
        }
    }

    #[test]
    fn a_bit_mask_answer_without_a_documented_bit_is_an_error() {
        // URIBL documents 2, 4, 8 (and 1 as the error): 16 + 32 is nothing it knows.
        assert_eq!(
            list("uribl").decode(records(&[[127, 0, 0, 48]])),
            Err(ListError::NoDocumentedBit {
                list: "uribl".into(),
                code: Ipv4Addr::new(127, 0, 0, 48)
            })
        );
        // One good record does not excuse another with no documented bit.
        assert_eq!(
            list("surbl").decode(records(&[[127, 0, 0, 8], [127, 0, 0, 2]])),
            Err(ListError::NoDocumentedBit {
                list: "surbl".into(),
                code: Ipv4Addr::new(127, 0, 0, 2)
            })
        );
        assert_eq!(
            list("surbl").decode(records(&[[10, 0, 0, 8]])),
            Err(ListError::NotLoopback {
                list: "surbl".into(),
                code: Ipv4Addr::new(10, 0, 0, 8)
            })
        );
    }

    #[test]
    fn messages_name_the_list_and_code() {
        assert_eq!(
            error_answer(
                "spamhaus-zen",
                [127, 255, 255, 255],
                ErrorAnswerKind::RateLimited,
                "excessive queries"
            )
            .to_string(),
            "blocklist spamhaus-zen answered with an error: excessive queries, the resolver sent more \
             queries than free use allows (127.255.255.255)"
        );
        assert_eq!(
            undocumented("spamcop", [127, 0, 0, 3]).to_string(),
            "blocklist spamcop answered 127.0.0.3, which it does not document as a listing"
        );
    }
}
