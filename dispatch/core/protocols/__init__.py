"""The call-taking question sets as data (JSON, one file per complaint family), their schema
and the telephone-CPR script; read by the shell (`dispatch.http.protocol`), walked by
`dispatch.core.protocol`. docs/protocols.md says how to add one."""
