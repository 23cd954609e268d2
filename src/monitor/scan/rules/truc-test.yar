/*
 * A harmless marker for testing the scanning chain end to end without any real or test malware: a file
 * carrying both halves of the marker (in either order, anywhere) is reported as infected.
 */
rule Truc_Test_Marker
{
    meta:
        author = "Trục"
        description = "Trục scanning self-test marker"
        severity = "medium"
    strings:
        $a = "TRUC-SCAN-SELFTEST" ascii wide
        $b = "8c1d6e0b-do-not-deploy" ascii wide
    condition:
        $a and $b
}
