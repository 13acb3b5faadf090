"""adlab: a real two-DC Samba Active Directory domain in network namespaces, with real faults.

    from adlab import Lab
    with Lab() as info:          # up() ... down()
        print(info.dcs["dc1"].ldaps_url)
"""

from .errors import LabError
from .lab import Lab
from .state import AccountInfo, ComputerInfo, DCInfo, DnsRecordInfo, DuplicateSpnInfo, FaultsInfo, LabInfo

__all__ = ["Lab", "LabError", "LabInfo", "DCInfo", "AccountInfo", "ComputerInfo", "DnsRecordInfo",
           "DuplicateSpnInfo", "FaultsInfo"]
