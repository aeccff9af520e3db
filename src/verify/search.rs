//! Finding what to verify: the source's `AWSLogs/` folders (under a known prefix, or searched
//! for a few levels down), their `CloudTrail-Digest/REGION/` folders (an organization's member
//! accounts included), and each folder's digest keys within the range, grouped by chain. Also
//! the listings a run can name before it starts ([`first_listings`], [`listings_ahead`]), which
//! an S3 store sends early.
//!
//! A folder that cannot be listed is noted, not fatal: the report says what went unsearched.

use std::collections::BTreeMap;
use std::sync::Mutex;

use rayon::prelude::*;

use super::{digest_scan, ChainFilter, ValidateError, ValidateOptions};
use crate::digest::{is_account_id, is_organization_id, ChainId, DigestKey};
use crate::report::RequestedRange;
use crate::store::{ListingRequest, ObjectStore, StoreError};
use crate::time::UtcTime;
use crate::unreferenced;

/// An `AWSLogs/` folder, with its subfolders when finding it already listed them.
type AwsLogsRoot = (String, Option<Vec<String>>);

/// The `AWSLogs/` folder under a known prefix.
fn root_under(prefix: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        "AWSLogs/".to_string()
    } else {
        format!("{prefix}/AWSLogs/")
    }
}

/// The digest folders the filter names outright: each of its accounts, in each of its regions
/// (or the trail's home region), under the known prefix or the usual top-level `AWSLogs/`.
/// They are verified while the source is searched for the rest, so that a run for one trail
/// reads its digests from the first request on, as the AWS CLI does. A guess that does not
/// exist (an organization's layout, another prefix) is an empty listing and costs nothing
/// else: the search still finds every folder.
pub fn named_digest_folders(prefix: Option<&str>, filter: &ChainFilter) -> Vec<String> {
    let regions: Vec<&String> = if filter.regions.is_empty() {
        filter.home_region.iter().collect()
    } else {
        filter.regions.iter().collect()
    };
    let root = root_under(prefix.unwrap_or(""));
    let mut folders: Vec<String> = filter
        .accounts
        .iter()
        .filter(|account| is_account_id(account))
        .flat_map(|account| {
            let root = &root;
            regions
                .iter()
                .filter(|region| is_safe_segment(region))
                .map(move |region| format!("{root}{account}/CloudTrail-Digest/{region}/"))
        })
        .collect();
    folders.sort();
    folders.dedup();
    folders
}

/// A region name from the command line put in a path: one plain segment.
fn is_safe_segment(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The listings a run starts with: the digest folders the filter names and the first level of
/// the search. An S3 store sends them alongside its region lookup (`S3Store::open`), so that
/// they are not one round trip behind it.
#[cfg(feature = "aws")]
pub fn first_listings(
    prefix: Option<&str>,
    filter: &ChainFilter,
    range: &RequestedRange,
) -> Vec<ListingRequest> {
    let root = root_under(prefix.unwrap_or(""));
    let mut listings = vec![ListingRequest::folders(&root)];
    listings.extend(
        named_digest_folders(prefix, filter)
            .into_iter()
            .map(|folder| {
                let start_after = digest_listing_start(&folder, range);
                ListingRequest::keys(&folder, start_after.as_deref())
            }),
    );
    listings
}

/// Listings a run will need after its first ones, which an S3 store sends with them without
/// waiting (`S3Store::open`): the log folder beside each named digest folder.
#[cfg(feature = "aws")]
pub fn listings_ahead(
    prefix: Option<&str>,
    filter: &ChainFilter,
    range: &RequestedRange,
) -> Vec<ListingRequest> {
    named_digest_folders(prefix, filter)
        .iter()
        .filter_map(|folder| log_listing_ahead(folder, range))
        .collect()
}

/// The early listing of the log folder beside a `.../CloudTrail-Digest/REGION/` folder.
pub(super) fn log_listing_ahead(
    digest_folder: &str,
    range: &RequestedRange,
) -> Option<ListingRequest> {
    let (parent, region) = digest_folder.strip_suffix('/')?.rsplit_once('/')?;
    let account_root = parent.strip_suffix("CloudTrail-Digest")?;
    unreferenced::early_listing(&unreferenced::log_folder(account_root, region), range)
}

/// Where a digest folder's listing starts: keys are `FOLDER/YYYY/MM/DD/NAME`, so the range
/// maps onto the listing order. A whole key name before the start's date folder (see
/// [`unreferenced::listing_start_for_day`]), never the folder's bare name.
fn digest_listing_start(folder: &str, range: &RequestedRange) -> Option<String> {
    range
        .start
        .map(|start| unreferenced::listing_start_for_day(folder, start))
}

/// What searching the source found: the digest folders to verify, and the folders it could not
/// list (after retries), with why. Nothing under those is known, which the report says.
#[derive(Debug, Default)]
pub(super) struct Search {
    pub folders: Vec<String>,
    pub unsearched: Vec<(String, StoreError)>,
}

/// Lists `folder`'s subfolders for the search. A folder that cannot be listed is noted in
/// `unsearched` and counts as empty, so that one folder's failure (a prefix the bucket policy
/// denies, a server that keeps failing) does not hide the verdicts of the others; only a
/// failure of this machine ends the run.
fn search_listing(
    store: &dyn ObjectStore,
    folder: &str,
    unsearched: &Mutex<Vec<(String, StoreError)>>,
) -> Result<Vec<String>, ValidateError> {
    match store.list_folders(folder) {
        Ok(children) => Ok(children),
        Err(error @ StoreError::Local(_)) => Err(ValidateError::listing(folder)(error)),
        Err(error) => {
            unsearched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((folder.to_string(), error));
            Ok(Vec::new())
        }
    }
}

/// The `AWSLogs/` folders of the source: under the given prefix, or searched for a few levels
/// down when the prefix is unknown.
fn awslogs_roots(
    store: &dyn ObjectStore,
    prefix: Option<&str>,
    unsearched: &Mutex<Vec<(String, StoreError)>>,
) -> Result<Vec<AwsLogsRoot>, ValidateError> {
    if let Some(prefix) = prefix {
        return Ok(vec![(root_under(prefix), None)]);
    }
    // The usual layout first: `AWSLogs/` at the top of the bucket. The search below would
    // find it at its first level and go no deeper, so this is the same answer one listing
    // sooner.
    let failed_before = unsearched.lock().unwrap_or_else(|p| p.into_inner()).len();
    let top = search_listing(store, "AWSLogs/", unsearched)?;
    if !top.is_empty() {
        return Ok(vec![("AWSLogs/".to_string(), Some(top))]);
    }
    if unsearched.lock().unwrap_or_else(|p| p.into_inner()).len() > failed_before {
        // `AWSLogs/` may well be there: searching around it would say nothing more.
        return Ok(Vec::new());
    }
    let mut roots = Vec::new();
    let mut frontier = vec![String::new()];
    for _depth in 0..4 {
        let mut next = Vec::new();
        for folder in &frontier {
            for child in search_listing(store, folder, unsearched)? {
                if child.ends_with("/AWSLogs/") || child == "AWSLogs/" {
                    roots.push(child);
                } else if child != ".ctverify/" {
                    next.push(child);
                }
            }
        }
        if !roots.is_empty() || next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok(roots.into_iter().map(|root| (root, None)).collect())
}

/// Every `.../CloudTrail-Digest/REGION/` folder the filter allows. An organization's trail
/// has a folder per member account: they are listed in parallel, so that the search takes a
/// few round trips whatever the number of accounts.
pub(super) fn digest_folders(
    store: &dyn ObjectStore,
    options: &ValidateOptions,
) -> Result<Search, ValidateError> {
    let unsearched = Mutex::new(Vec::new());
    let list = |folder: &String| search_listing(store, folder, &unsearched);
    let mut folders = Vec::new();
    for (root, listing) in awslogs_roots(store, options.prefix.as_deref(), &unsearched)? {
        let children = match listing {
            Some(children) => children,
            None => list(&root)?,
        };
        let mut account_roots = Vec::new();
        let mut organizations = Vec::new();
        for child in children {
            let name = child[root.len()..].trim_end_matches('/');
            if is_account_id(name) {
                account_roots.push((child.clone(), name.to_string()));
            } else if is_organization_id(name) {
                organizations.push(child);
            }
        }
        let members: Vec<Vec<String>> = organizations
            .par_iter()
            .map(list)
            .collect::<Result<_, _>>()?;
        for (organization, members) in organizations.iter().zip(members) {
            for member in members {
                let account = member[organization.len()..]
                    .trim_end_matches('/')
                    .to_string();
                if is_account_id(&account) {
                    account_roots.push((member, account));
                }
            }
        }
        let digest_roots: Vec<String> = account_roots
            .into_iter()
            .filter(|(_, account)| options.filter.wants_account(account))
            .map(|(account_root, _)| format!("{account_root}CloudTrail-Digest/"))
            .collect();
        let regions: Vec<Vec<String>> = digest_roots
            .par_iter()
            .map(list)
            .collect::<Result<_, _>>()?;
        for (digest_root, region_folders) in digest_roots.iter().zip(regions) {
            for region_folder in region_folders {
                let region = region_folder[digest_root.len()..].trim_end_matches('/');
                if options.filter.wants_region(region) {
                    folders.push(region_folder);
                }
            }
        }
    }
    let mut unsearched = unsearched.into_inner().unwrap_or_else(|p| p.into_inner());
    unsearched.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Search {
        folders,
        unsearched,
    })
}

/// The digest keys of one region folder within the range, grouped by chain, oldest first, and
/// the other objects of the range's day folders (see [`DigestListing::strays`]).
pub(super) fn list_digests(
    store: &dyn ObjectStore,
    folder: &str,
    options: &ValidateOptions,
) -> Result<DigestListing, ValidateError> {
    let mut chains: BTreeMap<ChainId, Vec<(String, UtcTime)>> = BTreeMap::new();
    let mut strays: Vec<String> = Vec::new();
    let mut filtered_out = false;
    let start_after = digest_listing_start(folder, &options.range);
    let first_day = options.range.start.map(UtcTime::date_path);
    let last_day = options.range.end.date_path();
    store
        .list_keys(folder, start_after.as_deref(), &mut |key| {
            let date = key.get(folder.len()..folder.len() + 10).unwrap_or("");
            if date > last_day.as_str() {
                return false;
            }
            // The listing starts at the end of the day before the range's.
            if first_day.as_deref().is_some_and(|first| date < first) {
                return true;
            }
            if let Some(name) = DigestKey::parse(key) {
                if !options.range.contains(name.end_time) {
                    return true;
                }
                if options.filter.wants_chain(&name.chain) {
                    let listed = (key.to_string(), name.end_time);
                    // The chain is held once, not once per digest.
                    match chains.get_mut(&name.chain) {
                        Some(keys) => keys.push(listed),
                        None => {
                            chains.insert(name.chain, vec![listed]);
                        }
                    }
                } else {
                    filtered_out = true;
                }
            } else if digest_scan::in_a_day_folder(folder, key) {
                strays.push(key.to_string());
            }
            true
        })
        .map_err(ValidateError::listing(folder))?;
    Ok(DigestListing {
        chains,
        filtered_out,
        strays,
    })
}

/// One digest folder's listing.
pub(super) struct DigestListing {
    pub chains: BTreeMap<ChainId, Vec<(String, UtcTime)>>,
    /// Some chain of this folder was left out by `--trail`/`--trail-arn`: its digests were not
    /// read, so the logs it lists cannot be told from planted ones.
    pub filtered_out: bool,
    /// Objects in the range's day folders whose key is no digest's name: planted files, or
    /// digests moved away from their key ([`digest_scan`] tells which).
    pub strays: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(accounts: &[&str], regions: &[&str], home: Option<&str>) -> ChainFilter {
        ChainFilter {
            accounts: accounts.iter().map(|s| s.to_string()).collect(),
            regions: regions.iter().map(|s| s.to_string()).collect(),
            trails: Vec::new(),
            home_region: home.map(str::to_string),
        }
    }

    #[test]
    fn named_folders_come_from_accounts_and_regions_or_the_home_region() {
        assert_eq!(
            named_digest_folders(None, &filter(&["111122223333"], &[], Some("us-east-1"))),
            ["AWSLogs/111122223333/CloudTrail-Digest/us-east-1/"]
        );
        assert_eq!(
            named_digest_folders(
                Some("/team/logs/"),
                &filter(
                    &["111122223333", "444455556666"],
                    &["eu-west-1", "eu-west-1"],
                    Some("us-east-1")
                )
            ),
            [
                "team/logs/AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/",
                "team/logs/AWSLogs/444455556666/CloudTrail-Digest/eu-west-1/",
            ]
        );
        // Nothing named, nothing guessed: the search alone decides.
        assert!(named_digest_folders(None, &filter(&[], &["us-east-1"], None)).is_empty());
        assert!(named_digest_folders(None, &filter(&["111122223333"], &[], None)).is_empty());
    }

    #[test]
    fn names_that_are_not_one_path_segment_are_not_put_in_a_path() {
        let folders = named_digest_folders(
            None,
            &filter(
                &["111122223333", "../../x", "1111222233334"],
                &["us-east-1", "../eu-west-1", "a/b", ""],
                None,
            ),
        );
        assert_eq!(
            folders,
            ["AWSLogs/111122223333/CloudTrail-Digest/us-east-1/"]
        );
    }

    #[test]
    fn the_first_listings_are_the_search_root_and_each_named_folder_from_the_range_start() {
        let range = RequestedRange {
            start: Some(UtcTime::parse_user("2024-03-01T05:00:00Z").unwrap()),
            end: UtcTime::parse_user("2024-03-02T00:00:00Z").unwrap(),
        };
        let listings = first_listings(
            None,
            &filter(&["111122223333"], &[], Some("us-east-1")),
            &range,
        );
        let folder = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/";
        assert_eq!(
            listings,
            [
                ListingRequest::folders("AWSLogs/"),
                ListingRequest::keys(folder, Some(&format!("{folder}2024/02/29/~"))),
            ]
        );
    }
}
