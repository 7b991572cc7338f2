#!/usr/bin/env python3
"""A retro-hunt's time, answer and peak memory (docs/serve.md, retro-hunts
bounded): `python3 scripts/bench-retrohunt.py BINARY EVENTS CONFIG`
starts `BINARY serve` on a fresh data directory (CONFIG: the text of a
--config file, or `-`), sends EVENTS whoami runs (each a detection),
waits until they are judged, then runs one retro-hunt over them and
prints its time, its answer's size and the server's resident size
(VmHWM: the peak) before and after."""
import json,subprocess,sys,time,urllib.request,re,os,shutil,tempfile
binary,n,conf=sys.argv[1],int(sys.argv[2]),sys.argv[3]
d=tempfile.mkdtemp(prefix='vigie-bench-retrohunt-')
tok=lambda sc: subprocess.check_output([binary,'token','create','--data',d+'/data','--scope',sc],text=True).strip()
A,I=tok('admin'),tok('ingest')
rule=re.search(r'pub const WHOAMI_RULE: &str = r#"(.*?)"#;',open(os.path.join(os.path.dirname(os.path.abspath(__file__)),'..','crates/cli/tests/common/mod.rs')).read(),re.S).group(1)
open(d+'/w.yml','w').write(rule)
args=[binary,'serve','--data',d+'/data','--listen','127.0.0.1:0','--no-builtin','--no-sigmahq','--rules',d+'/w.yml']
if conf!='-': open(d+'/c.toml','w').write(conf); args+=['--config',d+'/c.toml']
p=subprocess.Popen(args,stderr=subprocess.PIPE,text=True)
for line in p.stderr:
    if 'listening on' in line: base=line.split('listening on ')[1].strip(); break
def req(path,body=None,tok=A):
    r=urllib.request.Request(base+path,data=body,headers={'Authorization':'Bearer '+tok})
    return urllib.request.urlopen(r,timeout=900).read()
def ev(r):
    return json.dumps({"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"TimeCreated":{"#attributes":{"SystemTime":"2026-01-10T09:00:00.000Z"}},"EventRecordID":r,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"PC"},"EventData":{"Image":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami /all "+"x"*300}}})
for c in range(n//10000):
    req('/api/v1/ingest',("\n".join(ev(c*10000+i) for i in range(10000))+"\n").encode(),I)
while json.loads(req('/api/v1/stats')).get('events_committed',0)<n: time.sleep(0.5)
def rss():
    for l in open(f'/proc/{p.pid}/status'):
        if l.startswith('VmHWM') or l.startswith('VmRSS'): print(' ',l.strip(),end='')
    print()
print('before:',end=''); rss()
t=time.time(); body=req('/api/v1/retrohunt',json.dumps({"rules":rule}).encode())
s=json.loads(body)['summary']
print(f"retrohunt {time.time()-t:.1f}s detections={s['detections']} answer={len(body)/1e6:.1f}MB kept={s.get('detections_kept')}",end=''); rss()
p.kill()
shutil.rmtree(d,ignore_errors=True)
