//! `GET /api/jobs`: job lists served by `JobStore::list_jobs` (one status at a time, newest
//! first), merged here.
//!
//! `in_progress` spans four statuses (QUEUED, CHUNKING, PROCESSING, REASSEMBLING), ordered by
//! `created_at`: each is listed (newest first, `limit` items) and the pages are merged; the
//! cursor remembers, per status, the last item handed out, so the next page continues every
//! status exactly where the merge stopped. `completed` and `failed` are single statuses ordered
//! by `completed_at`, served the same way.
use super::cursor::{Cursor, Position};
use super::error::{ApiError, ApiResult};
use super::view::JobView;
use pipeline_core::domain::{JobRecord, JobStatus};
use pipeline_core::ports::{JobCursor, JobOrder, JobStore};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

/// One list: the statuses it merges and the time it is ordered by.
#[derive(Debug, PartialEq, Eq)]
pub struct ListKind {
    pub name: &'static str,
    pub statuses: &'static [JobStatus],
    pub order: JobOrder,
}

pub const IN_PROGRESS: ListKind = ListKind {
    name: "in_progress",
    statuses: &[
        JobStatus::Queued,
        JobStatus::Chunking,
        JobStatus::Processing,
        JobStatus::Reassembling,
    ],
    order: JobOrder::Created,
};
pub const COMPLETED: ListKind = ListKind {
    name: "completed",
    statuses: &[JobStatus::Completed],
    order: JobOrder::Completed,
};
/// Jobs that ended without a film: failed, and cancelled by their owner.
pub const FAILED: ListKind = ListKind {
    name: "failed",
    statuses: &[JobStatus::Failed, JobStatus::Cancelled],
    order: JobOrder::Completed,
};

pub fn kind(name: &str) -> ApiResult<&'static ListKind> {
    [&IN_PROGRESS, &COMPLETED, &FAILED]
        .into_iter()
        .find(|k| k.name == name)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "status must be in_progress, completed or failed, not {name:?}"
            ))
        })
}

pub fn parse_limit(raw: Option<&str>) -> ApiResult<usize> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "limit must be a whole number from 1 to {MAX_LIMIT}, not {s:?}"
            ))),
        },
    }
}

impl ListKind {
    fn sort_of(&self, job: &JobRecord) -> i64 {
        self.order.time_of(job)
    }
}

/// One Query page of one status partition.
#[derive(Debug, Clone)]
pub struct PartitionPage {
    pub status: JobStatus,
    pub items: Vec<JobRecord>,
    /// DynamoDB's LastEvaluatedKey (more may follow it).
    pub last_key: Option<Position>,
}

/// Merge partition pages newest first into at most `limit` jobs, and the cursor of the next
/// page (`None` when every partition is exhausted). Items are taken from each page in its own
/// order, so what is handed out from a partition is always a prefix of its page.
pub fn merge(
    kind: &ListKind,
    previous: &Cursor,
    pages: &[PartitionPage],
    limit: usize,
) -> (Vec<JobRecord>, Option<Cursor>) {
    let mut heads = vec![0usize; pages.len()];
    let mut out = Vec::new();
    while out.len() < limit {
        // A page used up while its partition has more: items beyond it may be newer than the
        // other partitions' next ones, so stop here (a shorter page, never a wrong order).
        if pages
            .iter()
            .zip(&heads)
            .any(|(p, &h)| h == p.items.len() && p.last_key.is_some())
        {
            break;
        }
        let next = pages
            .iter()
            .enumerate()
            .filter(|(i, p)| heads[*i] < p.items.len())
            .max_by(|(i, p), (j, q)| {
                let a = kind.sort_of(&p.items[heads[*i]]);
                let b = kind.sort_of(&q.items[heads[*j]]);
                // Newest first; on equal times the earlier partition wins (max_by keeps the last).
                a.cmp(&b).then(j.cmp(i))
            })
            .map(|(i, _)| i);
        let Some(i) = next else { break };
        out.push(pages[i].items[heads[i]].clone());
        heads[i] += 1;
    }

    let mut cursor = Cursor {
        list: kind.name.to_string(),
        at: previous.at.clone(),
    };
    for (p, &taken) in pages.iter().zip(&heads) {
        let position = if taken == p.items.len() {
            match &p.last_key {
                None => Some(Position::Done),
                Some(k) => Some(k.clone()),
            }
        } else if taken > 0 {
            let last = &p.items[taken - 1];
            Some(Position::After {
                job_id: last.job_id.clone(),
                sort: kind.sort_of(last),
            })
        } else {
            None // untouched: keep where it was
        };
        if let Some(pos) = position {
            cursor.set(p.status, pos);
        }
    }
    let finished = kind
        .statuses
        .iter()
        .all(|s| cursor.position(*s) == Some(&Position::Done));
    (out, (!finished).then_some(cursor))
}

/// List one status, newest first, after `from`.
pub async fn query_partition(
    jobs: &dyn JobStore,
    kind: &ListKind,
    status: JobStatus,
    from: Option<&Position>,
    limit: usize,
) -> ApiResult<PartitionPage> {
    let after = match from {
        Some(Position::After { job_id, sort }) => Some(JobCursor {
            job_id: job_id.clone(),
            sort: *sort,
        }),
        Some(Position::Done) | None => None,
    };
    let page = jobs
        .list_jobs(status, kind.order, after.as_ref(), limit)
        .await
        .map_err(|e| ApiError::backend("list jobs", &e))?;
    Ok(PartitionPage {
        status,
        items: page.jobs,
        last_key: page.next.map(|c| Position::After {
            job_id: c.job_id,
            sort: c.sort,
        }),
    })
}

/// Store round trips one page may take to gather `limit` jobs the caller may see (other users'
/// jobs are skipped); a page can hold fewer and still have a cursor.
pub const MAX_ROUNDS: usize = 5;

/// One page of `kind`, continuing `cursor`: the jobs `visible` keeps, at most `limit`.
pub async fn list(
    jobs: &dyn JobStore,
    kind: &ListKind,
    cursor: &Cursor,
    limit: usize,
    visible: &(dyn Fn(&JobRecord) -> bool + Sync),
) -> ApiResult<(Vec<JobView>, Option<String>)> {
    let mut out = Vec::new();
    let mut cursor = Some(cursor.clone());
    for _ in 0..MAX_ROUNDS {
        let Some(at) = cursor.take() else { break };
        let want = limit - out.len();
        let queries = kind
            .statuses
            .iter()
            .filter(|s| at.position(**s) != Some(&Position::Done))
            .map(|s| query_partition(jobs, kind, *s, at.position(*s), want));
        let pages = futures_util::future::try_join_all(queries).await?;
        let (page, next) = merge(kind, &at, &pages, want);
        out.extend(page.iter().filter(|j| visible(j)).map(JobView::from));
        cursor = next;
        if out.len() >= limit {
            break;
        }
    }
    Ok((out, cursor.map(|c| c.encode())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_core::domain::JobId;

    fn job(n: u32, status: JobStatus, created: i64) -> JobRecord {
        let mut j = JobRecord::new(
            JobId::derive("b", &format!("input/{n}.mp4"), "e", ""),
            "b",
            &format!("input/{n}.mp4"),
        );
        j.status = status;
        j.created_at = created;
        j
    }

    fn page(status: JobStatus, items: Vec<JobRecord>, more: bool) -> PartitionPage {
        let last_key = more.then(|| {
            let l = items.last().expect("a page with more has items");
            Position::After {
                job_id: l.job_id.clone(),
                sort: l.created_at,
            }
        });
        PartitionPage {
            status,
            items,
            last_key,
        }
    }

    fn times(jobs: &[JobRecord]) -> Vec<i64> {
        jobs.iter().map(|j| j.created_at).collect()
    }

    /// Simulate paging over in-memory partitions (sorted newest first) with the real merge.
    fn paginate(parts: &[(JobStatus, Vec<JobRecord>)], limit: usize) -> Vec<Vec<i64>> {
        let mut cursor = Cursor {
            list: "in_progress".into(),
            ..Cursor::default()
        };
        let mut pages_out = Vec::new();
        for _ in 0..50 {
            let pages: Vec<PartitionPage> = parts
                .iter()
                .filter(|(s, _)| cursor.position(*s) != Some(&Position::Done))
                .map(|(s, items)| {
                    let start = match cursor.position(*s) {
                        None => 0,
                        Some(Position::After { job_id, .. }) => {
                            items.iter().position(|j| &j.job_id == job_id).unwrap() + 1
                        }
                        Some(Position::Done) => unreachable!(),
                    };
                    let end = (start + limit).min(items.len());
                    page(*s, items[start..end].to_vec(), end < items.len())
                })
                .collect();
            let (jobs, next) = merge(&IN_PROGRESS, &cursor, &pages, limit);
            pages_out.push(times(&jobs));
            match next {
                Some(c) => cursor = c,
                None => return pages_out,
            }
        }
        panic!("pagination did not end: {pages_out:?}");
    }

    #[test]
    fn merges_partitions_newest_first_across_pages() {
        use JobStatus::*;
        let parts = vec![
            (Queued, vec![job(1, Queued, 90), job(2, Queued, 40)]),
            (Chunking, vec![]),
            (
                Processing,
                vec![
                    job(3, Processing, 100),
                    job(4, Processing, 80),
                    job(5, Processing, 70),
                    job(6, Processing, 10),
                ],
            ),
            (Reassembling, vec![job(7, Reassembling, 50)]),
        ];
        let pages = paginate(&parts, 2);
        assert_eq!(
            pages,
            vec![vec![100, 90], vec![80, 70], vec![50, 40], vec![10]]
        );
        let all = paginate(&parts, 100);
        assert_eq!(all, vec![vec![100, 90, 80, 70, 50, 40, 10]]);
    }

    #[test]
    fn a_short_page_with_more_stops_the_merge() {
        use JobStatus::*;
        // Processing returned one item but has more (1 MB page cap): nothing older than its
        // next unseen item may be handed out before it.
        let pages = vec![
            page(Queued, vec![job(1, Queued, 90), job(2, Queued, 10)], false),
            page(Processing, vec![job(3, Processing, 100)], true),
        ];
        let (jobs, next) = merge(&IN_PROGRESS, &Cursor::default(), &pages, 5);
        assert_eq!(times(&jobs), [100]);
        let next = next.expect("more to come");
        assert_eq!(next.position(Queued), None, "queued untouched");
        assert!(matches!(
            next.position(Processing),
            Some(Position::After { sort: 100, .. })
        ));
    }

    #[test]
    fn empty_lists_have_no_cursor() {
        let pages: Vec<PartitionPage> = IN_PROGRESS
            .statuses
            .iter()
            .map(|s| page(*s, vec![], false))
            .collect();
        let (jobs, next) = merge(&IN_PROGRESS, &Cursor::default(), &pages, 20);
        assert!(jobs.is_empty() && next.is_none());
    }

    #[test]
    fn parameters() {
        assert_eq!(kind("completed").unwrap().order, JobOrder::Completed);
        assert_eq!(kind("in_progress").unwrap().statuses.len(), 4);
        assert_eq!(kind("running").unwrap_err().status.as_u16(), 400);
        assert_eq!(parse_limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(parse_limit(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", ""] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
    }
}
