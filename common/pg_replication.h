#pragma once

// How far a PostgreSQL standby may be behind its primary, as one SQL expression (seconds; NULL when it
// cannot be bounded). Shared by the agent's postgres check and the aggregator's promotion gate, so the
// node reports the same figure the gate judges.
//
// Zero only while the WAL receiver is streaming and replay has caught up with what it received: an idle
// primary is not lag. Otherwise the commits the standby may lack all came after its last replayed commit,
// so the age of that commit bounds them. That is also the bound once the receiver is down (the primary
// dead, or the link cut): "caught up with what was received" says nothing about a receiver that stopped
// receiving long ago. NULL when no commit was ever replayed: unknown, which a gate refuses.
// The bound is coarse for a quiet primary (its last commit may be old); the old primary's last published
// position (the primary lease, primary_handover.h) is the precise answer when there is one.

namespace hale {

// The WAL receiver's status; NULL when none runs; 'hidden' when one runs but this role may not see its
// state (only roles with pg_read_all_stats, e.g. through pg_monitor, may: others see its pid alone).
inline constexpr const char* kPgReceiverStatusSql =
    "(SELECT CASE WHEN status IS NULL THEN 'hidden' ELSE status END FROM pg_stat_wal_receiver LIMIT 1)";

// A hidden receiver is taken as streaming here, so an unprivileged check does not fail a healthy standby
// (it says what to grant); the promotion's gate, which must not guess, treats it as cut off.
inline constexpr const char* kPgStandbyLagSql =
    "CASE WHEN NOT pg_is_in_recovery() THEN 0 "
    "     WHEN (SELECT CASE WHEN status IS NULL THEN 'hidden' ELSE status END FROM pg_stat_wal_receiver LIMIT 1) "
    "          IN ('streaming', 'hidden') "
    "      AND pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 "
    "     ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END";

// The age of the last replayed commit, NULL when none was.
inline constexpr const char* kPgLastReplayAgeSql = "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())";

// Seconds since the WAL receiver last heard from its primary; NULL when none runs or this role cannot see.
// A receiver cut off silently (a partition, a frozen primary) says 'streaming' until wal_receiver_timeout,
// and it has replayed all it received: only this says how long ago "all it received" was. The promotion
// gate bounds the lag of a streaming standby that has received and replayed all its sender reported by
// it (postgres_promote_action.cpp). The agent's check does not: an idle primary sends nothing for up to
// wal_receiver_timeout / 2, which is no fault of a standby in service.
inline constexpr const char* kPgReceiverSilenceSql =
    "(SELECT EXTRACT(EPOCH FROM now() - last_msg_receipt_time) FROM pg_stat_wal_receiver LIMIT 1)";

// Whether replay has caught up with what was received.
inline constexpr const char* kPgReplayCaughtUpSql =
    "pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()";

// Whether the standby has received all the WAL its sender last reported having (latest_end_lsn, the
// sender's WAL end as of its last WAL message). A sender with a backlog keeps the receiver busy and
// "caught up with what it received" while the primary is far ahead. NULL until the first WAL message:
// the sender, which streams what it has first, has had nothing to send since the receiver started.
inline constexpr const char* kPgReceivedAllReportedSql =
    "COALESCE(pg_last_wal_receive_lsn() >= (SELECT latest_end_lsn FROM pg_stat_wal_receiver LIMIT 1), true)";

}  // namespace hale
