"""The names of the hub's watermarks (``sync_state`` rows): one constant each, so the flow
that moves a watermark and the flows that read it agree."""

#: the newest ``updated`` day of the PKS ASN enumeration the mirror holds (F1); present once
#: the mirror has been loaded, which is what the usulan scope check waits for
ASN_CURSOR = "asn.updated_cursor"
#: the Jakarta date of the last full sweep of the ASN enumeration (F1)
ASN_FULL_SWEEP = "asn.last_full_sweep"
#: the newest ``updated_at`` collected from SIAPP NV, per resource (F5-F8)
SIAPP_RESOURCE = "usulan_sync.siapp.{resource}"
#: the newest day of BKN's status list taken back (F3, F4)
SIASN_STATUS = "usulan_sync.siasn.status_usulan"
